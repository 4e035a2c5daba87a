// Error policy (design notes §2): bad input is an exception whose message says what was expected
// and what was found; non-convergence is a status, never an exception; only the CLI prints.
#pragma once

#include <stdexcept>
#include <string>

namespace cvxnn {

/// Bad parameters or bad data handed to the library (maps to Python's ValueError).
class InvalidInput : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A file that cannot be read or written, or whose contents are malformed.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cvxnn
