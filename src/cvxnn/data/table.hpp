// Reading and writing numeric tables: the first stage of the pipeline (design notes: core → data).
//
// Data arrive as CSV files with a header row or as NumPy .npy arrays. Both are read into a Table
// (finite doubles, one sample per row); the user then names the target columns and the rest
// become features. A CSV column may hold text: a classifier's label column ("setosa",
// "versicolor", ...), or one the fit never reads (an id). Text is kept as written and refused
// only where numbers are needed (a feature, a regression target), with the first such cell's
// line and column. Every malformed input is a FileError whose message starts with the
// file path and, for CSV, gives 1-based line and column numbers, because the person reading it
// has to find the bad cell in a file we never show them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

/// A CSV column with at least one cell that is not a number.
struct TextColumn {
  std::vector<std::string> cells;  ///< one per row: trimmed, surrounding quotes removed ("" → ")
  std::string not_a_number;        ///< "path: line L, column C ('name'): cannot parse 'x' as a number"
};

/// A table read from a file: values(i, j) is row i, column j.
struct Table {
  Matrix values;  ///< NaN in the text columns
  std::map<Index, TextColumn> text_columns;  ///< by column index; npy tables have none
  std::vector<std::string> column_names;  ///< CSV: the header; npy: "0", "1", ...
  std::string source;                     ///< the path it was read from, for error messages
  bool has_header_names = false;          ///< false when the names are only column indices
};

/// CSV with a required header row; comma separated. Header names may carry surrounding spaces
/// and quotes; cells may carry surrounding spaces. '\r\n' line ends and blank trailing lines are
/// accepted. Numeric cells must be finite (NaN and Inf are rejected; a leading '+' is accepted);
/// a column with any other non-empty text becomes a TextColumn. Empty cells are rejected.
Table read_csv(const std::string& path);

/// NumPy .npy, format versions 1, 2 and 3; dtypes '<f8', '<f4', '<i8', '<i4'; C or Fortran
/// order; 1-D (n,) arrays become one column. Columns are named "0", "1", ...
Table read_npy(const std::string& path);

/// Dispatches on the extension: ".npy" (any case) is read as npy, anything else as CSV.
Table read_table(const std::string& path);

/// Inputs and targets of a supervised problem.
struct Dataset {
  Matrix X;  ///< n×d features, in file order
  Matrix Y;  ///< n×c targets, in the order they were asked for
  std::vector<std::string> feature_names;
  std::vector<std::string> target_names;
  /// When the one target column holds text labels: the distinct labels in byte order (UTF-8:
  /// code point order, as NumPy sorts strings), and Y holds each row's index among them (0..k−1).
  /// Empty when the targets are numbers.
  std::vector<std::string> class_names;
};

/// Splits off the target columns. A target is a column name or a 0-based column index written
/// as a string ("3"); a name wins when a header name equals the string. Throws InvalidInput for
/// an empty target list, an unknown target, or a column asked for twice; FileError for a text
/// feature column or a text target beside other targets, naming the first text cell, and for a
/// label that is not valid UTF-8.
Dataset split_targets(const Table& table, const std::vector<std::string>& targets);

/// The named columns, in the order given (for prediction: the model's feature columns).
/// Names are matched against column_names, which for npy tables are the indices "0", "1", ...
/// Throws InvalidInput naming the file and the column when one is missing, FileError naming
/// the first text cell of a text column.
Matrix select_columns(const Table& table, const std::vector<std::string>& names);

/// A label column coded by a model's classes: each row's index in `class_names` (n×1). Throws
/// InvalidInput naming the row's line for a label that is not one of them.
Matrix select_label_codes(const Table& table, const std::string& name, const std::vector<std::string>& class_names);

/// A field as the CSV writers write it: quoted (with "" for ") when it is empty or holds a comma,
/// a quote or surrounding spaces. InvalidInput for a line break, which the reader cannot take.
std::string csv_field(const std::string& text);

/// The text write_csv writes (header row, then the values).
std::string csv_text(const Matrix& values, const std::vector<std::string>& column_names);

/// Writes a CSV with a header row. Numbers are written as the shortest text that reads back to
/// the same double (std::to_chars), independent of the locale. Names that contain a comma, a
/// quote or surrounding spaces are quoted. Non-finite values are written as "nan"/"inf" (so the
/// result is visible) even though read_csv rejects them. Atomic: see write_text_file_atomically.
void write_csv(const std::string& path, const Matrix& values,
               const std::vector<std::string>& column_names);

/// Writes `contents` to a temporary file in the same directory, flushes and closes it, then
/// renames it over `path`, so a reader never sees a half-written file and a failed write never
/// destroys the previous one. On failure the temporary file is removed and FileError is thrown.
void write_text_file_atomically(const std::string& path, const std::string& contents);

}  // namespace cvxnn
