"""Meta-estimators: voting, stacking, calibration."""
