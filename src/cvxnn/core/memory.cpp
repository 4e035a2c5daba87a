#include "cvxnn/core/memory.hpp"

#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

double available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream fields(line.substr(13));
      double kib = 0.0;
      if (fields >> kib) return kib * 1024.0;
    }
  }
  return 0.0;
}

void check_memory(double needed, double available, const std::string& what, const std::string& advice) {
  if (available <= 0.0 || needed <= 0.9 * available) return;
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  throw InvalidInput(fmt::format("{} would need about {:.1f} GiB of memory, but {:.1f} GiB are available; {}", what,
                                 needed / kGiB, available / kGiB, advice));
}

}  // namespace cvxnn
