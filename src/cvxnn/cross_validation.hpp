// Model selection: k-fold cross-validation of β over a warm-started grid, then one certified fit.
//
// The grid is the regularisation path's (path.hpp): β_max of the full data (preprocessed as the
// final fit will be, on the final fit's patterns) down to min_ratio · β_max, geometric, or an
// explicit list. Rows are dealt into folds by a seeded permutation; for the classification losses
// each class is permuted and dealt on its own (stratified), so each fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉
// rows of class c, and the folds' sizes differ by at most one.
//
// Each fold replays the training pipeline on its training rows alone, so nothing of the held-out
// rows leaks into the fit: the Preprocessing (centres and scales) is fitted on them, the patterns
// are chosen on them (same seed), and the path is solved on them, warm-started from β_max down.
// Labels are encoded with the full data's classes, so a fold whose training rows miss a class
// still scores every validation row (its one-hot column is then all zero in training).
//
// The validation loss of a fold at β is that of the fold's network on its held-out rows:
//   squared         the MSE in the units of the data, (1/(n_v c)) ‖Ŷ − Y‖² with Ŷ mapped back
//   logistic /      the mean log-loss of the held-out labels (natural log), i.e. the training loss
//   cross-entropy   (loss.hpp) on the held-out rows
// and, for the classifiers, the accuracy of the predicted labels. The table gives mean and
// standard deviation (over folds, ddof = 0, as scikit-learn's cv_results_) at each β. The chosen
// β is the one with the smallest mean validation loss (the larger β on an exact tie); the final
// model is train_convex_model on all the data at that β, with its own certificate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cvxnn/fit.hpp"
#include "cvxnn/model.hpp"

namespace cvxnn {

struct CrossValidationOptions {
  FitOptions fit;            ///< loss, formulation, patterns, seed, solver (its beta is ignored)
  DataOptions data;          ///< preprocessing, refitted on each fold's training rows
  Index folds = 5;
  Index points = 10;         ///< grid size, β_max included
  double min_ratio = 1e-3;   ///< smallest β / β_max
  std::vector<double> betas; ///< an explicit grid instead (any order; reported from large to small)
  std::uint64_t fold_seed = 0;  ///< seed of the fold permutation

  /// Empty when valid, else what is wrong (the data-dependent checks come with the data).
  std::string check() const;
};

/// Fold index (0..folds−1) of every row. `labels` (n×1 class labels) asks for stratified folds;
/// empty, plain ones. InvalidInput when folds < 2, folds > n, or (stratified) a class has fewer
/// rows than folds.
std::vector<Index> assign_folds(Index n, Index folds, std::uint64_t seed, const Matrix& labels = Matrix());

struct CrossValidationPoint {
  double beta = 0.0;
  Vector fold_loss;          ///< validation loss of each fold
  Vector fold_accuracy;      ///< validation accuracy of each fold (classifiers; else empty)
  double mean_loss = 0.0, std_loss = 0.0;
  double mean_accuracy = 0.0, std_accuracy = 0.0;  ///< NaN for the squared loss
  double mean_units = 0.0;         ///< hidden units of the folds' networks, averaged
  double max_relative_gap = 0.0;   ///< the worst certificate among the folds' fits
  Index converged_folds = 0;       ///< folds whose solve reached the requested gap
};

/// What the progress callback sees after each fold's point (fold < folds), and once more before
/// the final fit (fold == folds, point == chosen).
struct CrossValidationProgress {
  Index fold = 0, folds = 0;
  Index point = 0, points = 0;
  double beta = 0.0;
  double validation_loss = 0.0;   ///< NaN before the final fit
  double relative_gap = 0.0;
};

struct CrossValidationResult {
  double beta_max = 0.0;           ///< of the full data on the final fit's patterns
  std::vector<CrossValidationPoint> points;  ///< from the largest β to the smallest
  Index chosen = 0;                ///< index of the chosen point
  double chosen_beta = 0.0;
  std::vector<Index> fold_of_row;  ///< assign_folds' answer
  bool stopped = false;            ///< the callback asked to stop: no final fit, `model` empty
  Model model;                     ///< the final fit at chosen_beta on all rows
  FitResult final_fit;             ///< its solver details
};

/// Cross-validates on raw data (X n×d_in, Y n×c; with a classification loss one column of
/// labels). `on_progress` (optional) returning false stops the run after the current solve.
CrossValidationResult cross_validate(MatrixView X, MatrixView Y, const std::vector<std::string>& feature_names,
                                     const std::vector<std::string>& target_names,
                                     const CrossValidationOptions& options,
                                     const std::function<bool(const CrossValidationProgress&)>& on_progress = {});
/// The same on a data set read from a file: text labels (data.class_names) stay with the final model.
CrossValidationResult cross_validate(const Dataset& data, const CrossValidationOptions& options,
                                     const std::function<bool(const CrossValidationProgress&)>& on_progress = {});

}  // namespace cvxnn
