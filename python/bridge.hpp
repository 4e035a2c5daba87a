// The one way Python callbacks are called from work running with the GIL released (the solvers,
// cross-validation): take the GIL, look for Ctrl-C, call the user's function, and keep whatever
// exception any of it raised, so that the C++ side only sees "stop" (false) and the exception is
// raised again once the work has returned and the GIL is held (raise_pending).
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <utility>

namespace cvxnn {

class PythonCallbackBridge {
 public:
  /// Runs `call` (returning bool: false stops the work) with the GIL held, after checking for
  /// signals; false without calling it once an exception is pending. Safe from any thread.
  template <typename Call>
  bool guarded(Call&& call) {
    pybind11::gil_scoped_acquire gil;
    if (pending_) return false;
    try {
      if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
      return call();
    } catch (...) {
      pending_ = std::current_exception();
      return false;
    }
  }

  /// With the GIL held, after the work returned: raise what stopped it, if anything did.
  void raise_pending() {
    if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
  }

  /// A user's answer: False stops the work (as a C++ callback's false does); None goes on.
  static bool goes_on(const pybind11::object& answer) { return answer.is_none() || answer.cast<bool>(); }

 private:
  std::exception_ptr pending_;
};

}  // namespace cvxnn
