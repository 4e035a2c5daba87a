// What the machine can hold: a fit that would not fit in memory is refused up front with an
// estimate, instead of swapping for hours or being killed half-way.
#pragma once

#include <string>

namespace cvxnn {

/// Bytes the machine can give now (MemAvailable of /proc/meminfo); 0 when unknown.
double available_memory_bytes();

/// Throws InvalidInput, naming `what`, the estimate and the available memory in GiB and `advice`,
/// when `needed` exceeds 90% of `available`. Does nothing when `available` is 0 (unknown).
void check_memory(double needed, double available, const std::string& what, const std::string& advice);

}  // namespace cvxnn
