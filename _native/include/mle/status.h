// Status: the only way errors cross the C++ -> Cython boundary. Nothing throws across it.
#pragma once
#include <string>
#include <utility>

namespace mle {

enum class Code : int {
  kOk = 0,
  kFormat = 1,       // the file is not a valid .mle file (-> FormatError)
  kInput = 2,        // bad caller input at predict time (-> InputError, a ValueError)
  kUnsupported = 3,  // valid file using a feature this build cannot run (-> UnsupportedModelError)
  kIO = 4,           // operating-system error while opening or reading (-> OSError with errno)
  kMemory = 5,       // allocation failure (-> MemoryError)
  kInternal = 6,     // a bug in mle_runtime (-> MLEError)
};

struct Status {
  Code code = Code::kOk;
  int err_no = 0;
  std::string message;

  Status() = default;
  Status(Code c, std::string m, int e = 0) : code(c), err_no(e), message(std::move(m)) {}

  bool ok() const { return code == Code::kOk; }
  int code_value() const { return static_cast<int>(code); }
  static Status OK() { return Status(); }
  static Status Format(std::string m) { return Status(Code::kFormat, std::move(m)); }
  static Status Input(std::string m) { return Status(Code::kInput, std::move(m)); }
  static Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
  static Status IO(std::string m, int e) { return Status(Code::kIO, std::move(m), e); }
  static Status Memory(std::string m) { return Status(Code::kMemory, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
};

#define MLE_RETURN_IF_ERROR(expr)       \
  do {                                  \
    ::mle::Status _mle_st = (expr);     \
    if (!_mle_st.ok()) return _mle_st;  \
  } while (0)

}  // namespace mle
