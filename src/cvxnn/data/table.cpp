// CSV and .npy readers, the target/feature split, and the atomic CSV writer.
//
// Parsing is hand-written rather than delegated to a library because every failure must say
// exactly where it is (file, line, column, header name) and numbers must be read and written
// locale-independently and bit-exactly (std::from_chars / std::to_chars), so a table written by
// write_csv reads back to the same doubles.
#include "cvxnn/data/table.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

namespace {

namespace fs = std::filesystem;

// ---- shared helpers ------------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FileError(path + ": " + what);
}

std::string errno_text(int error) { return std::strerror(error); }

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(path, "is a directory, not a file");
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open for reading: " + errno_text(errno));
  std::string bytes;
  char buffer[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, got);
  if (std::ferror(file.get())) fail(path, "read error: " + errno_text(errno));
  return bytes;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

// Long cells are cut in messages: the message must stay readable when a binary file is read as CSV.
std::string excerpt(std::string_view text) {
  constexpr std::size_t limit = 40;
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

// A table can have thousands of columns; the message lists enough to recognise the file.
std::string available_columns(const Table& table) {
  const auto& names = table.column_names;
  if (!table.has_header_names) {
    return fmt::format("available columns: 0 to {} (0-based indices; the file has no header)",
                       names.size() == 0 ? 0 : names.size() - 1);
  }
  constexpr std::size_t shown = 20;
  std::string list;
  for (std::size_t j = 0; j < std::min(names.size(), shown); ++j) {
    if (j > 0) list += ", ";
    list += "'" + names[j] + "'";
  }
  if (names.size() > shown) list += fmt::format(", ... ({} more)", names.size() - shown);
  return "available columns: " + list;
}

// ---- CSV reading ---------------------------------------------------------------------------------

struct Line {
  std::string_view text;
  std::size_t number;  // 1-based
};

std::vector<Line> split_lines(std::string_view text) {
  constexpr std::string_view bom = "\xEF\xBB\xBF";  // spreadsheet programs write one
  if (text.substr(0, bom.size()) == bom) text.remove_prefix(bom.size());
  std::vector<Line> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, lines.size() + 1});
    start = end + 1;
  }
  return lines;
}

bool is_blank(std::string_view line) { return trim(line).empty(); }

// Splits on commas outside double quotes; `fields` is reused across rows to avoid allocations.
void split_fields(const std::string& path, const Line& line,
                  std::vector<std::string_view>& fields) {
  fields.clear();
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < line.text.size(); ++i) {
    const char ch = line.text[i];
    if (ch == '"') {
      quoted = !quoted;
    } else if (ch == ',' && !quoted) {
      fields.push_back(line.text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) fail(path, fmt::format("line {}: unterminated quote", line.number));
  fields.push_back(line.text.substr(start));
}

std::string unquote_name(std::string_view field) {
  field = trim(field);
  if (field.size() >= 2 && (field.front() == '"' || field.front() == '\'') &&
      field.back() == field.front()) {
    const char quote = field.front();
    field = field.substr(1, field.size() - 2);
    std::string name;
    for (std::size_t i = 0; i < field.size(); ++i) {
      name += field[i];
      if (field[i] == quote && i + 1 < field.size() && field[i + 1] == quote) ++i;  // "" → "
    }
    return name;
  }
  return std::string(field);
}

std::vector<std::string> parse_header(const std::string& path, const Line& line) {
  std::vector<std::string_view> fields;
  split_fields(path, line, fields);
  std::vector<std::string> names;
  for (std::size_t j = 0; j < fields.size(); ++j) {
    names.push_back(unquote_name(fields[j]));
    if (names.back().empty()) {
      fail(path, fmt::format("line {}, column {}: empty column name in the header row",
                             line.number, j + 1));
    }
    for (std::size_t k = 0; k < j; ++k) {
      if (names[k] == names[j]) {
        fail(path, fmt::format("line {}: duplicate column name '{}' (columns {} and {})",
                               line.number, names[j], k + 1, j + 1));
      }
    }
  }
  return names;
}

enum class NumberStatus { ok, not_a_number, non_finite, overflow };

// from_chars reports values beyond double's range as errors; we round underflow to ±0 (as
// strtod and NumPy do) and report only overflow. long double has the range to tell them apart.
bool magnitude_below_one(std::string_view text) {
  long double wide = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), wide);
  if (result.ec == std::errc()) return std::fabs(wide) < 1.0L;
  const auto e = text.find_first_of("eE");  // beyond long double too: the exponent's sign decides
  return e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-';
}

NumberStatus classify_out_of_range(std::string_view text, double& value) {
  if (!magnitude_below_one(text)) return NumberStatus::overflow;
  value = text.front() == '-' ? -0.0 : 0.0;
  return NumberStatus::ok;
}

NumberStatus parse_number(std::string_view text, double& value) {
  if (text.size() >= 2 && text.front() == '+' && text[1] != '-' && text[1] != '+') {
    text.remove_prefix(1);  // from_chars rejects '+', but people (and Excel) write it
  }
  if (text.empty()) return NumberStatus::not_a_number;
  const auto* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (result.ptr != end) return NumberStatus::not_a_number;
  if (result.ec == std::errc::result_out_of_range) return classify_out_of_range(text, value);
  if (result.ec != std::errc()) return NumberStatus::not_a_number;
  if (!std::isfinite(value)) return NumberStatus::non_finite;
  return NumberStatus::ok;
}

std::string_view cell_text(std::string_view field) {
  field = trim(field);
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
    field = trim(field.substr(1, field.size() - 2));
  }
  return field;
}

// The number in a cell, or nullopt for text (any non-empty cell that is not a number); the
// message `not_a_number` receives is what using the column as numbers will say. Empty cells and
// NaN/Inf/overflow are errors in every column: a missing value is not a label.
std::optional<double> parse_cell(const std::string& path, const Line& line, std::size_t column,
                                 const std::string& name, std::string_view field, std::string* not_a_number) {
  const auto where = fmt::format("line {}, column {} ('{}')", line.number, column + 1, name);
  const auto text = cell_text(field);
  if (text.empty()) fail(path, where + ": empty cell");
  double value = 0;
  switch (parse_number(text, value)) {
    case NumberStatus::ok: return value;
    case NumberStatus::non_finite:
      fail(path, where + ": '" + excerpt(text) + "' is NaN/Inf, which is not allowed");
    case NumberStatus::overflow:
      fail(path, where + ": '" + excerpt(text) +
                     "' is too large for a double (it would be Inf, which is not allowed)");
    case NumberStatus::not_a_number: break;
  }
  *not_a_number = path + ": " + where + ": cannot parse '" + excerpt(text) + "' as a number";
  return std::nullopt;
}

// Data lines are those after the header up to the last non-blank one; blank lines may only trail.
std::vector<Line> data_lines(const std::string& path, const std::vector<Line>& lines) {
  std::size_t last = lines.size();
  while (last > 1 && is_blank(lines[last - 1].text)) --last;
  std::vector<Line> rows(lines.begin() + 1, lines.begin() + static_cast<std::ptrdiff_t>(last));
  for (const auto& row : rows) {
    if (is_blank(row.text)) {
      fail(path, fmt::format("line {}: blank line inside the data (blank lines are allowed only "
                             "at the end of the file)",
                             row.number));
    }
  }
  if (rows.empty()) fail(path, "no data rows (the file has only a header row)");
  return rows;
}

void parse_rows(const std::string& path, const std::vector<Line>& rows, Table& table) {
  const auto width = table.column_names.size();
  table.values.resize(static_cast<Index>(rows.size()), static_cast<Index>(width));
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    split_fields(path, rows[i], fields);
    if (fields.size() != width) {
      fail(path, fmt::format("line {}: expected {} fields, found {}", rows[i].number, width,
                             fields.size()));
    }
    for (std::size_t j = 0; j < width; ++j) {
      std::string not_a_number;
      const auto value = parse_cell(path, rows[i], j, table.column_names[j], fields[j], &not_a_number);
      table.values(static_cast<Index>(i), static_cast<Index>(j)) =
          value ? *value : std::numeric_limits<double>::quiet_NaN();
      if (!value && !table.text_columns.count(static_cast<Index>(j))) {
        table.text_columns[static_cast<Index>(j)].not_a_number = std::move(not_a_number);
      }
    }
  }
  // A column turns out to be text at its first non-number: a second pass keeps all its cells.
  if (table.text_columns.empty()) return;
  for (auto& [j, column] : table.text_columns) column.cells.reserve(rows.size());
  for (const Line& row : rows) {
    split_fields(path, row, fields);
    for (auto& [j, column] : table.text_columns) {
      column.cells.push_back(unquote_name(fields[static_cast<std::size_t>(j)]));
      table.values(static_cast<Index>(column.cells.size()) - 1, j) = std::numeric_limits<double>::quiet_NaN();
    }
  }
}

// ---- .npy reading --------------------------------------------------------------------------------

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

struct HeaderSyntaxError {
  std::string what;
};

// The .npy header is a Python dict literal, e.g. {'descr': '<f8', 'fortran_order': False,
// 'shape': (442, 11), }. This parses just that grammar: strings, True/False/None, integers,
// and (nested) tuples/lists, which is all numpy.lib.format writes.
class NpyHeaderParser {
 public:
  explicit NpyHeaderParser(std::string_view text) : text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!accept('}')) {
      const auto key = parse_string();
      expect(':');
      if (key == "descr") {
        header.descr = parse_descr();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        seen_shape = true;
      } else {
        skip_value();
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) {
      throw HeaderSyntaxError{"the header must have the keys 'descr', 'fortran_order' and 'shape'"};
    }
    return header;
  }

 private:
  void skip_blanks() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char ch) {
    skip_blanks();
    if (pos_ < text_.size() && text_[pos_] == ch) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char ch) {
    if (!accept(ch)) {
      throw HeaderSyntaxError{fmt::format("expected '{}' at offset {}", ch, pos_)};
    }
  }
  char peek() {
    skip_blanks();
    if (pos_ >= text_.size()) throw HeaderSyntaxError{"unexpected end of header"};
    return text_[pos_];
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') {
      throw HeaderSyntaxError{fmt::format("expected a string at offset {}", pos_)};
    }
    const auto end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) throw HeaderSyntaxError{"unterminated string"};
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }
  std::string word() {
    skip_blanks();
    const auto start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_' || text_[pos_] == '-')) {
      ++pos_;
    }
    if (start == pos_) throw HeaderSyntaxError{fmt::format("unexpected character at offset {}", pos_)};
    return std::string(text_.substr(start, pos_ - start));
  }
  std::string parse_descr() {
    const char next = peek();
    if (next == '[' || next == '{') {
      skip_value();
      return "structured (record) dtype";
    }
    return parse_string();
  }
  bool parse_bool() {
    const auto value = word();
    if (value == "True") return true;
    if (value == "False") return false;
    throw HeaderSyntaxError{"'fortran_order' must be True or False, found " + value};
  }
  std::vector<std::uint64_t> parse_shape() {
    expect('(');
    std::vector<std::uint64_t> shape;
    while (!accept(')')) {
      const auto text = word();
      std::uint64_t dim = 0;
      const auto result = std::from_chars(text.data(), text.data() + text.size(), dim);
      if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
        throw HeaderSyntaxError{"bad dimension '" + text + "' in 'shape'"};
      }
      shape.push_back(dim);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }
  void skip_value() {
    const char next = peek();
    if (next == '\'' || next == '"') {
      parse_string();
    } else if (next == '(' || next == '[' || next == '{') {
      const char close = next == '(' ? ')' : next == '[' ? ']' : '}';
      ++pos_;
      while (!accept(close)) {
        skip_value();
        if (accept(':')) skip_value();
        if (!accept(',')) {
          expect(close);
          break;
        }
      }
    } else {
      word();
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

enum class NpyType { f8, f4, i8, i4 };

std::optional<NpyType> npy_type(const std::string& descr) {
  if (descr == "<f8") return NpyType::f8;
  if (descr == "<f4") return NpyType::f4;
  if (descr == "<i8") return NpyType::i8;
  if (descr == "<i4") return NpyType::i4;
  return std::nullopt;
}

std::size_t item_size(NpyType type) {
  return type == NpyType::f8 || type == NpyType::i8 ? 8 : 4;
}

template <typename Unsigned>
Unsigned load_little_endian(const unsigned char* bytes) {
  Unsigned value = 0;
  for (std::size_t b = 0; b < sizeof(Unsigned); ++b) {
    value |= static_cast<Unsigned>(static_cast<Unsigned>(bytes[b]) << (8 * b));
  }
  return value;
}

double decode(NpyType type, const unsigned char* bytes) {
  switch (type) {
    case NpyType::f8: return std::bit_cast<double>(load_little_endian<std::uint64_t>(bytes));
    case NpyType::f4: return std::bit_cast<float>(load_little_endian<std::uint32_t>(bytes));
    case NpyType::i8:
      return static_cast<double>(std::bit_cast<std::int64_t>(load_little_endian<std::uint64_t>(bytes)));
    case NpyType::i4:
      return std::bit_cast<std::int32_t>(load_little_endian<std::uint32_t>(bytes));
  }
  return 0;
}

// Returns the header text and sets `data_offset` to where the array data starts.
std::string_view npy_header_text(const std::string& path, std::string_view bytes,
                                 std::size_t& data_offset) {
  constexpr std::string_view magic = "\x93NUMPY";
  if (bytes.size() < magic.size() + 2 || bytes.substr(0, magic.size()) != magic) {
    fail(path, "not a .npy file (bad magic string; expected \\x93NUMPY)");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3) {
    fail(path, fmt::format("unsupported .npy format version {}.{} (supported: 1, 2, 3)", major,
                           minor));
  }
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t prefix = 8 + length_size;
  if (bytes.size() < prefix) fail(path, "truncated .npy header");
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data()) + 8;
  const std::size_t header_length = major == 1 ? load_little_endian<std::uint16_t>(raw)
                                               : load_little_endian<std::uint32_t>(raw);
  if (bytes.size() - prefix < header_length) {
    fail(path, fmt::format("truncated .npy header (it says {} bytes, the file has {})",
                           header_length, bytes.size() - prefix));
  }
  data_offset = prefix + header_length;
  return bytes.substr(prefix, header_length);
}

NpyHeader parse_npy_header(const std::string& path, std::string_view text) {
  try {
    return NpyHeaderParser(text).parse();
  } catch (const HeaderSyntaxError& error) {
    fail(path, "malformed .npy header: " + error.what + " in \"" + excerpt(trim(text)) + "\"");
  }
}

// Rows and columns of the table a shape describes.
std::pair<std::uint64_t, std::uint64_t> npy_table_shape(const std::string& path,
                                                        const std::vector<std::uint64_t>& shape) {
  if (shape.empty()) fail(path, "the array is 0-dimensional (a scalar), not a table");
  if (shape.size() > 2) {
    fail(path, fmt::format("the array has {} dimensions; only 1-D and 2-D arrays are supported",
                           shape.size()));
  }
  const std::uint64_t rows = shape[0];
  const std::uint64_t cols = shape.size() == 2 ? shape[1] : 1;
  if (rows == 0) fail(path, "no data rows (the array has shape (0, ...))");
  if (cols == 0) fail(path, "the array has no columns");
  return {rows, cols};
}

void check_npy_length(const std::string& path, std::uint64_t rows, std::uint64_t cols,
                      std::size_t item, std::size_t available) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  if (cols > max / rows || rows * cols > max / item) fail(path, "the array shape is too large");
  const std::uint64_t needed = rows * cols * item;
  if (needed > available) {
    fail(path, fmt::format("truncated .npy data: the shape ({}, {}) needs {} bytes, the file has {}",
                           rows, cols, needed, available));
  }
}

Matrix decode_npy_values(const std::string& path, const NpyHeader& header, NpyType type,
                         std::uint64_t rows, std::uint64_t cols, const unsigned char* data) {
  Matrix values(static_cast<Index>(rows), static_cast<Index>(cols));
  const std::size_t item = item_size(type);
  for (std::uint64_t i = 0; i < rows; ++i) {
    for (std::uint64_t j = 0; j < cols; ++j) {
      const std::uint64_t k = header.fortran_order ? j * rows + i : i * cols + j;
      const double value = decode(type, data + k * item);
      if (!std::isfinite(value)) {
        fail(path, fmt::format("row {}, column {} (0-based): NaN/Inf is not allowed", i, j));
      }
      values(static_cast<Index>(i), static_cast<Index>(j)) = value;
    }
  }
  return values;
}

// ---- writing -------------------------------------------------------------------------------------

std::string temporary_path_for(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t salt = std::random_device{}();
  const auto stamp = static_cast<std::uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  const fs::path target(path);
  const auto name = fmt::format(".{}.tmp-{:x}", target.filename().string(),
                                salt ^ stamp ^ (counter.fetch_add(1) << 48));
  return (target.parent_path() / name).string();
}

void write_all(const std::string& path, const std::string& temporary, const std::string& contents) {
  std::FILE* file = std::fopen(temporary.c_str(), "wbx");
  if (file == nullptr) {
    fail(path, "cannot create the temporary file '" + temporary + "': " + errno_text(errno));
  }
  bool ok = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size() &&
            std::fflush(file) == 0;
  int error = ok ? 0 : errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    std::remove(temporary.c_str());
    fail(path, "cannot write: " + errno_text(error));
  }
}

}  // namespace

// ---- public API ----------------------------------------------------------------------------------

Table read_csv(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  const auto lines = split_lines(bytes);
  if (std::all_of(lines.begin(), lines.end(), [](const Line& l) { return is_blank(l.text); })) {
    fail(path, "the file is empty (a header row and at least one data row are required)");
  }
  if (is_blank(lines.front().text)) fail(path, "line 1: the header row is empty");
  Table table;
  table.source = path;
  table.has_header_names = true;
  table.column_names = parse_header(path, lines.front());
  parse_rows(path, data_lines(path, lines), table);
  return table;
}

Table read_npy(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  std::size_t data_offset = 0;
  const auto header = parse_npy_header(path, npy_header_text(path, bytes, data_offset));
  const auto type = npy_type(header.descr);
  if (!type) {
    fail(path, "unsupported dtype '" + header.descr +
                   "' (supported: '<f8', '<f4', '<i8', '<i4', i.e. little-endian float64, "
                   "float32, int64, int32)");
  }
  const auto [rows, cols] = npy_table_shape(path, header.shape);
  check_npy_length(path, rows, cols, item_size(*type), bytes.size() - data_offset);
  Table table;
  table.source = path;
  table.has_header_names = false;
  table.values = decode_npy_values(path, header, *type, rows, cols,
                                   reinterpret_cast<const unsigned char*>(bytes.data()) + data_offset);
  for (std::uint64_t j = 0; j < cols; ++j) table.column_names.push_back(std::to_string(j));
  return table;
}

Table read_table(const std::string& path) {
  auto extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return extension == ".npy" ? read_npy(path) : read_csv(path);
}

namespace {

std::optional<Index> column_by_name(const Table& table, const std::string& name) {
  const auto& names = table.column_names;
  const auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end()) return std::nullopt;
  return static_cast<Index>(found - names.begin());
}

std::optional<Index> column_by_index(const Table& table, const std::string& text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](unsigned char ch) {
        return std::isdigit(ch) != 0;
      })) {
    return std::nullopt;
  }
  std::uint64_t index = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), index);
  if (result.ec != std::errc() || index >= table.column_names.size()) return std::nullopt;
  return static_cast<Index>(index);
}

Index resolve_target(const Table& table, const std::string& target) {
  if (auto by_name = column_by_name(table, target)) return *by_name;
  if (auto by_index = column_by_index(table, target)) return *by_index;
  throw InvalidInput(table.source + ": unknown target column '" + target +
                     "' (give a column name or a 0-based column index); " +
                     available_columns(table));
}

// Features and regression targets are numbers: a text column is refused at its first text cell.
void require_numbers(const Table& table, Index column, const std::string& role) {
  const auto text = table.text_columns.find(column);
  if (text == table.text_columns.end()) return;
  throw FileError(text->second.not_a_number + " (the column is " + role +
                  "; only a classifier's one label column may hold text)");
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) length = 1, code = lead;
    else if ((lead & 0xE0) == 0xC0) length = 2, code = lead & 0x1Fu;
    else if ((lead & 0xF0) == 0xE0) length = 3, code = lead & 0x0Fu;
    else if ((lead & 0xF8) == 0xF0) length = 4, code = lead & 0x07u;
    else return false;
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3Fu);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    static constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

// Data rows start on line 2 (the header is line 1; blank lines may only trail).
std::string label_where(const Table& table, Index column, std::size_t row) {
  return fmt::format("{}: line {}, column {} ('{}')", table.source, row + 2, column + 1,
                     table.column_names[static_cast<std::size_t>(column)]);
}

// A text label column as codes: each row's index among its distinct labels in byte order.
Matrix code_text_labels(const Table& table, Index column, std::vector<std::string>* class_names) {
  const TextColumn& text = table.text_columns.at(column);
  for (std::size_t i = 0; i < text.cells.size(); ++i) {
    if (!valid_utf8(text.cells[i])) {
      throw FileError(label_where(table, column, i) + ": the label '" + excerpt(text.cells[i]) +
                      "' is not valid UTF-8 (labels are written to model files as JSON text)");
    }
  }
  std::vector<std::string> names = text.cells;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  Matrix codes(static_cast<Index>(text.cells.size()), 1);
  for (std::size_t i = 0; i < text.cells.size(); ++i) {
    codes(static_cast<Index>(i), 0) =
        double(std::lower_bound(names.begin(), names.end(), text.cells[i]) - names.begin());
  }
  *class_names = std::move(names);
  return codes;
}

Matrix gather_columns(const Matrix& values, const std::vector<Index>& columns) {
  Matrix out(values.rows(), static_cast<Index>(columns.size()));
  for (std::size_t k = 0; k < columns.size(); ++k) {
    out.col(static_cast<Index>(k)) = values.col(columns[k]);
  }
  return out;
}

}  // namespace

Dataset split_targets(const Table& table, const std::vector<std::string>& targets) {
  if (targets.empty()) {
    throw InvalidInput(table.source + ": no target column given; " + available_columns(table));
  }
  std::vector<Index> target_columns;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const Index column = resolve_target(table, targets[t]);
    const auto earlier = std::find(target_columns.begin(), target_columns.end(), column);
    if (earlier != target_columns.end()) {
      const auto& first = targets[static_cast<std::size_t>(earlier - target_columns.begin())];
      throw InvalidInput(fmt::format("{}: target column '{}' is given twice (as '{}' and '{}'); {}",
                                     table.source, table.column_names[static_cast<std::size_t>(column)],
                                     first, targets[t], available_columns(table)));
    }
    target_columns.push_back(column);
  }
  std::vector<Index> feature_columns;
  for (Index j = 0; j < table.values.cols(); ++j) {
    if (std::find(target_columns.begin(), target_columns.end(), j) == target_columns.end()) {
      feature_columns.push_back(j);
    }
  }
  for (Index j : feature_columns) require_numbers(table, j, "a feature");
  Dataset data;
  data.X = gather_columns(table.values, feature_columns);
  if (target_columns.size() == 1 && table.text_columns.count(target_columns[0])) {
    data.Y = code_text_labels(table, target_columns[0], &data.class_names);
  } else {
    for (Index j : target_columns) require_numbers(table, j, "one of several targets");
    data.Y = gather_columns(table.values, target_columns);
  }
  for (Index j : feature_columns) data.feature_names.push_back(table.column_names[static_cast<std::size_t>(j)]);
  for (Index j : target_columns) data.target_names.push_back(table.column_names[static_cast<std::size_t>(j)]);
  return data;
}

Matrix select_columns(const Table& table, const std::vector<std::string>& names) {
  std::vector<Index> columns;
  for (const auto& name : names) {
    const auto column = column_by_name(table, name);
    if (!column) {
      throw InvalidInput(table.source + ": column '" + name + "' not found; " +
                         available_columns(table));
    }
    require_numbers(table, *column, "used as numbers");
    columns.push_back(*column);
  }
  return gather_columns(table.values, columns);
}

Matrix select_label_codes(const Table& table, const std::string& name, const std::vector<std::string>& class_names) {
  const auto column = column_by_name(table, name);
  if (!column) {
    throw InvalidInput(table.source + ": column '" + name + "' not found; " + available_columns(table));
  }
  const auto text = table.text_columns.find(*column);
  if (text == table.text_columns.end()) {
    throw FileError(table.source + ": label column '" + name +
                    "' holds only numbers, but the model's classes are text labels");
  }
  const std::vector<std::string>& cells = text->second.cells;
  Matrix codes(static_cast<Index>(cells.size()), 1);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto found = std::find(class_names.begin(), class_names.end(), cells[i]);
    if (found == class_names.end()) {
      throw InvalidInput(label_where(table, *column, i) + ": the label '" + excerpt(cells[i]) +
                         "' is not one of the model's " + std::to_string(class_names.size()) + " classes");
    }
    codes(static_cast<Index>(i), 0) = double(found - class_names.begin());
  }
  return codes;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of("\r\n") != std::string::npos) {
    throw InvalidInput("CSV: the field '" + excerpt(text) + "' contains a line break");
  }
  const bool needs_quotes = text.empty() || text.find_first_of(",\"'") != std::string::npos ||
                            trim(text).size() != text.size();
  if (!needs_quotes) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

std::string csv_text(const Matrix& values, const std::vector<std::string>& column_names) {
  if (static_cast<Index>(column_names.size()) != values.cols()) {
    throw InvalidInput(fmt::format("write_csv: {} column names for {} columns", column_names.size(), values.cols()));
  }
  std::string text;
  for (std::size_t j = 0; j < column_names.size(); ++j) {
    if (j > 0) text += ',';
    text += csv_field(column_names[j]);
  }
  text += '\n';
  char buffer[64];
  for (Index i = 0; i < values.rows(); ++i) {
    for (Index j = 0; j < values.cols(); ++j) {
      if (j > 0) text += ',';
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, values(i, j));
      text.append(buffer, result.ptr);
    }
    text += '\n';
  }
  return text;
}

void write_csv(const std::string& path, const Matrix& values,
               const std::vector<std::string>& column_names) {
  write_text_file_atomically(path, csv_text(values, column_names));
}

void write_text_file_atomically(const std::string& path, const std::string& contents) {
  const auto temporary = temporary_path_for(path);
  write_all(path, temporary, contents);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    fail(path, "cannot replace the file with the written temporary file: " + errno_text(error));
  }
}

}  // namespace cvxnn
