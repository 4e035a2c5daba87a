// Versioned JSON model files (design notes §2): everything needed to predict and to re-check the
// certificate — preprocessing, weights, gates, β, the certificate — and nothing that depends on
// the machine. Written atomically (temp file + rename) with shortest round-trip doubles, so a
// model reloads bit for bit; loading rejects unknown versions and malformed files with a message
// that names the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cvxnn/data/labels.hpp"
#include "cvxnn/data/preprocess.hpp"
#include "cvxnn/network/two_layer_network.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/problem/formulation.hpp"

namespace cvxnn {

/// How the model was trained (informational, except `samples` which certify compares).
struct TrainingSummary {
  std::string method = "convex";  ///< "convex" or a nonconvex trainer's name
  Index samples = 0;
  Index input_features = 0;  ///< d_in, before the bias column
  Index outputs = 0;
  std::string status;
  int iterations = 0;
  double seconds = 0.0;
  double tol = 0.0;
};

struct Model {
  static constexpr int kFormatVersion = 1;

  Formulation formulation = Formulation::gated;
  std::string loss = "squared";  ///< to_string(LossKind): squared, logistic or cross-entropy
  std::string penalty = "group";  ///< to_string(PenaltyKind) of the program certified (absent in old files: group)
  /// A classifier's labels, increasing (loss logistic: 2, cross-entropy: one per output); empty
  /// for regression. target_names then holds the one label column.
  double beta = 0.0;
  Preprocessing preprocessing;
  std::vector<std::string> feature_names;  ///< raw feature columns, in the order the network takes them
  std::vector<std::string> target_names;
  Vector classes;
  /// Text labels of the classes when the label column held text ("setosa", ...): classes are then
  /// their codes 0..k−1 and class_names[k] is the label of code k. Empty for numeric labels.
  /// Stored as "class_labels": {"dtype": "<U…", "values": [...]}, the field the Python classifier
  /// writes for string labels, so either side reads the other's files.
  std::vector<std::string> class_names;
  TwoLayerNetwork network;
  /// The pattern set the program ranged over, as gates (P×d) and, for the signed program, signs
  /// (P×c); `certify` rebuilds the masks from them on the data.
  Matrix pattern_gates;
  Matrix pattern_signs;
  PatternSource pattern_source = PatternSource::given;
  bool patterns_complete = false;
  std::uint64_t pattern_seed = 0;
  Certificate certificate;
  /// The dual direction Θ (n×c, in standardised target units) whose bound is certificate.dual;
  /// empty when the bound came from the network's residual alone.
  Matrix dual_direction;
  TrainingSummary training;

  bool classifier() const { return classes.size() > 0; }
  /// The label of class k as text: its name, or the number as the shortest text reading back to it.
  std::string class_label(Index k) const;
  LossKind loss_kind() const { return loss_kind_from_string(loss); }
  PenaltyKind penalty_kind() const { return penalty_kind_from_string(penalty); }
  /// The classes and the loss's encoding (InvalidInput for a regression model).
  LabelEncoding labels() const;
  /// Predictions in the units of the data from raw features (n×d_in): for a classifier, the
  /// network's scores (one column for logistic, one per class for cross-entropy).
  Matrix predict(MatrixView raw_features) const;
  /// A classifier's labels (n×1) and class probabilities (n × classes).
  Matrix predict_labels(MatrixView raw_features) const;
  Matrix predict_proba(MatrixView raw_features) const;
};

void save_model(const Model& model, const std::string& path);
Model load_model(const std::string& path);

/// The JSON text of a model (what save_model writes), and its parser (path only names errors).
std::string model_to_json(const Model& model);
Model model_from_json(const std::string& text, const std::string& path = "<model>");

}  // namespace cvxnn
