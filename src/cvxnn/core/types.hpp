// Basic numeric types shared by every stage of the pipeline.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace cvxnn {

using Index = Eigen::Index;

/// Data matrices (X: n×d, Y: n×c) are row-major: one sample per row, as in NumPy and CSV files.
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Solver variables are column-major: column j of V (d×J) is the weight vector of group j.
using ColMatrix = Eigen::MatrixXd;
/// A read-only view of row-major data owned elsewhere (a NumPy array, a block of a Matrix): the
/// entry points that only read their data take this, so arrays cross from Python uncopied.
using MatrixView = Eigen::Ref<const Matrix>;
using Vector = Eigen::VectorXd;
/// Activation patterns, n×P, entry (k, i) = 1 when sample k is active for pattern i.
/// Bytes, never doubles: the mask is only read, and a byte is 8× smaller.
using Mask = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace cvxnn
