// The one thread-count knob of the library. Every OpenMP region says num_threads(cvxnn::num_threads()).
#pragma once

namespace cvxnn {

/// Threads used by the parallel kernels; 0 (the default) means all the machine offers.
void set_num_threads(int threads);
int num_threads();
/// The knob as set (0: all cores), so a caller can restore it after changing it.
int requested_num_threads();

/// Threads for a parallel region doing about `flops` floating-point operations: 1 below ~10⁶,
/// where starting and joining threads costs more than the work (and much more on a loaded machine).
int num_threads_for(double flops);

}  // namespace cvxnn
