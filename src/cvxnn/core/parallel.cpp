#include "cvxnn/core/parallel.hpp"

#include <atomic>

#include "cvxnn/core/error.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cvxnn {

namespace {
std::atomic<int> requested_threads{0};
}

void set_num_threads(int threads) {
  if (threads < 0) throw InvalidInput("set_num_threads: expected a thread count >= 0, got " + std::to_string(threads));
  requested_threads = threads;
}

int num_threads() {
  int threads = requested_threads.load();
#ifdef _OPENMP
  if (threads == 0) threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  return threads < 1 ? 1 : threads;
}

int requested_num_threads() { return requested_threads.load(); }

int num_threads_for(double flops) { return flops < 1e6 ? 1 : num_threads(); }

}  // namespace cvxnn
