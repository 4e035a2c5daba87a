#include "cvxnn/data/labels.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

LabelEncoding LabelEncoding::fit(MatrixView labels, LossKind loss, const std::string& target_name) {
  if (loss == LossKind::squared) throw InvalidInput("the squared loss fits real targets, not class labels");
  if (labels.cols() != 1) {
    throw InvalidInput(fmt::format("a classifier takes one target column of class labels, got {}", labels.cols()));
  }
  if (labels.rows() == 0) throw InvalidInput("the training data is empty");
  if (!labels.allFinite()) throw InvalidInput(fmt::format("{} holds NaN or Inf; class labels must be finite", target_name));
  std::vector<double> values(labels.data(), labels.data() + labels.rows());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  if (values.size() < 2) {
    throw InvalidInput(fmt::format("{} holds a single class ({}); a classifier needs at least two", target_name,
                                   values.front()));
  }
  if (loss == LossKind::logistic && values.size() > 2) {
    throw InvalidInput(fmt::format("the logistic loss takes two classes but {} holds {}; use the cross-entropy loss "
                                   "for more", target_name, values.size()));
  }
  LabelEncoding encoding;
  encoding.loss = loss;
  encoding.classes = Eigen::Map<const Vector>(values.data(), static_cast<Index>(values.size()));
  return encoding;
}

Index LabelEncoding::index_of(double label) const {
  const double* begin = classes.data();
  const double* end = begin + classes.size();
  const double* at = std::lower_bound(begin, end, label);
  if (at == end || *at != label) {
    std::string known;
    for (Index i = 0; i < classes.size(); ++i) known += fmt::format("{}{}", i ? ", " : "", classes(i));
    throw InvalidInput(fmt::format("label {} is not one of the model's classes ({})", label, known));
  }
  return static_cast<Index>(at - begin);
}

Matrix LabelEncoding::encode(MatrixView labels) const {
  if (labels.cols() != 1) throw InvalidInput(fmt::format("expected one column of class labels, got {}", labels.cols()));
  Matrix Y = Matrix::Zero(labels.rows(), num_outputs());
  for (Index k = 0; k < labels.rows(); ++k) {
    Index index = 0;
    try {
      index = index_of(labels(k, 0));
    } catch (const InvalidInput& e) {
      throw InvalidInput(fmt::format("row {}: {}", k, e.what()));
    }
    if (loss == LossKind::logistic) {
      Y(k, 0) = index == 1 ? 1.0 : -1.0;
    } else {
      Y(k, index) = 1.0;
    }
  }
  return Y;
}

Matrix LabelEncoding::labels_of(const Matrix& scores) const {
  Matrix labels(scores.rows(), 1);
  for (Index k = 0; k < scores.rows(); ++k) {
    Index index = 0;
    if (loss == LossKind::logistic) {
      index = scores(k, 0) >= 0.0 ? 1 : 0;
    } else {
      scores.row(k).maxCoeff(&index);
    }
    labels(k, 0) = classes(index);
  }
  return labels;
}

Matrix LabelEncoding::probabilities(const Matrix& scores) const {
  Matrix p(scores.rows(), num_classes());
  for (Index k = 0; k < scores.rows(); ++k) {
    if (loss == LossKind::logistic) {
      const double s = scores(k, 0);
      // σ(s) and 1 − σ(s) = σ(−s), each computed from e^{−|s|} so neither overflows nor cancels.
      const double e = std::exp(-std::abs(s));
      const double larger = 1.0 / (1.0 + e), smaller = e / (1.0 + e);
      p(k, 1) = s >= 0.0 ? larger : smaller;
      p(k, 0) = s >= 0.0 ? smaller : larger;
    } else {
      const double top = scores.row(k).maxCoeff();
      p.row(k) = (scores.row(k).array() - top).exp();
      p.row(k) /= p.row(k).sum();
    }
  }
  return p;
}

}  // namespace cvxnn
