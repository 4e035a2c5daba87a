// Class labels of a classification target column and their encodings for the losses.
//
// A labelled data set has one target column of numeric labels (any distinct values: 0/1, −1/1,
// 1..k, 3.5); text labels arrive here as their codes 0..k−1 (Dataset::class_names keeps the text,
// Model::class_names carries it to the model file and to predictions). The classes are its distinct values in increasing order; the logistic loss takes
// exactly two (the first becomes −1, the second +1: the network's score is positive for the
// second class), the cross-entropy loss k ≥ 2 (one-hot columns in class order: one score per
// class). Predictions go back the same way: the label of the largest score (or of the sign) and
// the probabilities σ(score) or softmax(scores).
#pragma once

#include <string>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/loss.hpp"

namespace cvxnn {

struct LabelEncoding {
  LossKind loss = LossKind::logistic;
  Vector classes;  ///< distinct labels, increasing

  /// The classes of a label column (n×1). Throws InvalidInput for several columns, NaN/Inf, fewer
  /// than two classes, or more than two for the logistic loss (the message suggests cross-entropy).
  /// `target_name` only serves messages.
  static LabelEncoding fit(MatrixView labels, LossKind loss, const std::string& target_name = "the target");

  Index num_classes() const { return classes.size(); }
  /// Score columns of the model: 1 for logistic, the number of classes for cross-entropy.
  Index num_outputs() const { return loss == LossKind::logistic ? 1 : num_classes(); }
  /// The index of a label among the classes; InvalidInput naming it when it is not one of them.
  Index index_of(double label) const;

  /// The targets of the loss: ±1 (logistic) or one-hot rows (cross-entropy). Labels not seen in
  /// training are refused with their row.
  Matrix encode(MatrixView labels) const;
  /// Labels (n×1) of the class with the largest score (logistic: the second class when score ≥ 0).
  Matrix labels_of(const Matrix& scores) const;
  /// Class probabilities, n × num_classes (logistic: 1 − σ(s), σ(s)), without overflow.
  Matrix probabilities(const Matrix& scores) const;
};

}  // namespace cvxnn
