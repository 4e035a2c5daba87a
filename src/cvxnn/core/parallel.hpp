// The one thread-count knob of the library. Every OpenMP region says num_threads(cvxnn::num_threads()).
#pragma once

namespace cvxnn {

/// Threads used by the parallel kernels; 0 (the default) means all the machine offers.
void set_num_threads(int threads);
int num_threads();

}  // namespace cvxnn
