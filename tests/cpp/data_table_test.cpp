// Tests of the data readers and writer (cvxnn/data/table.hpp): exact number parsing, the
// target/feature split, .npy decoding (hand-made bytes and files written by NumPy itself),
// bit-exact CSV round trips, atomic writes, and an error message for every kind of bad input
// that names the file and, for CSV, the line and column.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"

namespace fs = std::filesystem;
using cvxnn::Matrix;

namespace {

static_assert(std::endian::native == std::endian::little, "the .npy fixtures are written raw");

// Checks that `action` throws `Exception` and that its message contains every part.
template <typename Exception>
void expect_error(const std::function<void()>& action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no exception thrown; expected one mentioning '" << parts.front() << "'";
  } catch (const Exception& error) {
    const std::string message = error.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message \"" << message << "\" does not contain \"" << part << "\"";
    }
  }
}

// FileError messages must begin with the path, so the user knows which file is at fault.
void expect_file_error(const std::string& path, const std::function<void()>& action,
                       std::vector<std::string> parts) {
  try {
    action();
    ADD_FAILURE() << "no FileError thrown for " << path;
  } catch (const cvxnn::FileError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << "message \"" << message << "\"";
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message \"" << message << "\" does not contain \"" << part << "\"";
    }
  }
}

std::uint64_t bits(double value) { return std::bit_cast<std::uint64_t>(value); }

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A .npy file as numpy.lib.format writes it: magic, version, header length, padded dict, data.
std::string npy_file(const std::string& descr, bool fortran, const std::string& shape,
                     const std::string& data, int major = 1) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " +
                       (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  const std::size_t unpadded = prefix + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  const std::size_t length = header.size();
  for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) {
    bytes += static_cast<char>((length >> (8 * b)) & 0xff);
  }
  return bytes + header + data;
}

class DataTable : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("cvxnn_data_table_test_" + std::to_string(random()) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string write(const std::string& name, const std::string& contents) const {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::set<std::string> files_in_dir() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.insert(entry.path().filename());
    return names;
  }

  fs::path dir_;
};

// ---- CSV: values ---------------------------------------------------------------------------------

TEST_F(DataTable, CsvValuesAreParsedExactly) {
  const auto path = write("exact.csv",
                          "a,b,c\n0.1,1e-300,-2.5e17\n0.30000000000000004,4.9e-324,+3\n"
                          "1.,.5,+.25\n");
  const auto table = cvxnn::read_csv(path);
  ASSERT_EQ(table.values.rows(), 3);
  ASSERT_EQ(table.values.cols(), 3);
  EXPECT_EQ(table.column_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(table.has_header_names);
  EXPECT_EQ(table.source, path);
  EXPECT_EQ(bits(table.values(0, 0)), bits(0.1));
  EXPECT_EQ(bits(table.values(0, 1)), bits(1e-300));
  EXPECT_EQ(bits(table.values(0, 2)), bits(-2.5e17));
  EXPECT_EQ(bits(table.values(1, 0)), bits(0.1 + 0.2));
  EXPECT_EQ(bits(table.values(1, 1)), bits(std::numeric_limits<double>::denorm_min()));
  EXPECT_EQ(table.values(1, 2), 3.0);
  EXPECT_EQ(table.values(2, 0), 1.0);
  EXPECT_EQ(table.values(2, 1), 0.5);
  EXPECT_EQ(table.values(2, 2), 0.25);
}

TEST_F(DataTable, CsvHeaderQuotesSpacesCrlfBomAndTrailingBlankLines) {
  const auto path = write("styled.csv",
                          "\xEF\xBB\xBF \"first\" , 'second name' ,third,\"a,b\"\r\n"
                          " 1 ,\"2\",3, 4\r\n5,6,7,8\r\n\r\n  \n\n");
  const auto table = cvxnn::read_csv(path);
  EXPECT_EQ(table.column_names,
            (std::vector<std::string>{"first", "second name", "third", "a,b"}));
  ASSERT_EQ(table.values.rows(), 2);
  EXPECT_EQ(table.values(0, 0), 1.0);
  EXPECT_EQ(table.values(0, 1), 2.0);
  EXPECT_EQ(table.values(1, 3), 8.0);
}

TEST_F(DataTable, CsvWithoutFinalNewline) {
  const auto table = cvxnn::read_csv(write("nofinal.csv", "x,y\n1,2\n3,4"));
  ASSERT_EQ(table.values.rows(), 2);
  EXPECT_EQ(table.values(1, 1), 4.0);
}

TEST_F(DataTable, CsvUnderflowRoundsToSignedZero) {
  const auto table = cvxnn::read_csv(write("tiny.csv", "x,y\n1e-400,-1e-5000\n"));
  EXPECT_EQ(table.values(0, 0), 0.0);
  EXPECT_FALSE(std::signbit(table.values(0, 0)));
  EXPECT_EQ(table.values(0, 1), 0.0);
  EXPECT_TRUE(std::signbit(table.values(0, 1)));
}

// ---- CSV: errors ---------------------------------------------------------------------------------

TEST_F(DataTable, MissingFileAndDirectoryAreRejected) {
  const auto missing = (dir_ / "missing.csv").string();
  expect_file_error(missing, [&] { cvxnn::read_csv(missing); }, {"cannot open"});
  const auto npy = (dir_ / "missing.npy").string();
  expect_file_error(npy, [&] { cvxnn::read_table(npy); }, {"cannot open"});
  const auto directory = dir_.string();
  expect_file_error(directory, [&] { cvxnn::read_csv(directory); }, {"directory"});
}

TEST_F(DataTable, EmptyFileIsRejected) {
  for (const std::string contents : {"", "\n", " \r\n\n  \n"}) {
    const auto path = write("empty.csv", contents);
    expect_file_error(path, [&] { cvxnn::read_csv(path); }, {"empty"});
  }
}

TEST_F(DataTable, HeaderOnlyHasNoDataRows) {
  for (const std::string contents : {"a,b", "a,b\n", "a,b\r\n\r\n\n"}) {
    const auto path = write("header.csv", contents);
    expect_file_error(path, [&] { cvxnn::read_csv(path); }, {"no data rows"});
  }
}

TEST_F(DataTable, BlankHeaderLineIsRejected) {
  const auto path = write("blankheader.csv", "\na,b\n1,2\n");
  expect_file_error(path, [&] { cvxnn::read_csv(path); }, {"line 1", "header"});
}

TEST_F(DataTable, RaggedRowsGiveLineAndFieldCounts) {
  std::string contents = "c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11\n";
  const std::string full = "1,2,3,4,5,6,7,8,9,10,11\n";
  for (int line = 2; line <= 6; ++line) contents += full;
  const auto path = write("ragged.csv", contents + "1,2,3,4,5,6,7,8,9,10\n" + full);
  expect_file_error(path, [&] { cvxnn::read_csv(path); },
                    {"line 7: expected 11 fields, found 10"});
  const auto longer = write("longer.csv", "a,b\n1,2\n3,4,5\n");
  expect_file_error(longer, [&] { cvxnn::read_csv(longer); },
                    {"line 3: expected 2 fields, found 3"});
}

// A non-number makes its column text; using it as numbers (a feature, a regression target, a
// model's feature column) names the first such cell.
TEST_F(DataTable, NonNumericCellGivesLineColumnAndName) {
  const auto path = write("text.csv", "age,sex,bmi\n1,2,3\n4,5,6\n7,8,9\n1,2,abc\n");
  const auto table = cvxnn::read_csv(path);
  const std::string where = "line 5, column 3 ('bmi'): cannot parse 'abc' as a number";
  expect_file_error(path, [&] { cvxnn::split_targets(table, {"age"}); }, {where, "a feature"});
  expect_file_error(path, [&] { cvxnn::split_targets(table, {"age", "bmi"}); }, {where, "several targets"});
  expect_file_error(path, [&] { cvxnn::select_columns(table, {"age", "bmi"}); }, {where});
  for (const std::string cell : {"1.5x", "++1", "+-1", "0x10", "1e", "-", "1 2", "'1'", "+"}) {
    const auto bad = write("bad.csv", "a,b\n1," + cell + "\n");
    expect_file_error(bad, [&] { cvxnn::split_targets(cvxnn::read_csv(bad), {"a"}); },
                      {"line 2, column 2 ('b')", "cannot parse", cell});
  }
  // The numeric columns of such a table are read as usual.
  EXPECT_EQ(cvxnn::select_columns(table, {"sex"})(3, 0), 2.0);
}

// A classifier's label column may hold text: the classes are its distinct labels in byte order
// (code point order for UTF-8, as NumPy sorts strings) and Y holds their indices.
TEST_F(DataTable, TextLabelsAreCodedInByteOrder) {
  const auto path = write("labels.csv",
                          "x,kind\n"
                          "1,versicolor\n"
                          "2,\"virginica, big\"\n"
                          "3,  setosa \n"
                          "4,12\n"
                          "5,\u00e9t\u00e9\n"
                          "6,Zeta\n"
                          "7,setosa\n"
                          "8,\"say \"\"hi\"\"\"\n");
  const auto table = cvxnn::read_csv(path);
  const auto data = cvxnn::split_targets(table, {"kind"});
  // Byte order: digits < upper case < lower case < multi-byte UTF-8; quotes and trimming removed.
  const std::vector<std::string> expected = {"12", "Zeta", "say \"hi\"", "setosa", "versicolor", "virginica, big",
                                             "\u00e9t\u00e9"};
  EXPECT_EQ(data.class_names, expected);
  ASSERT_EQ(data.Y.rows(), 8);
  const std::vector<std::string> rows = {"versicolor", "virginica, big", "setosa", "12", "\u00e9t\u00e9", "Zeta",
                                         "setosa", "say \"hi\""};
  for (cvxnn::Index i = 0; i < 8; ++i) {
    EXPECT_EQ(expected.at(static_cast<std::size_t>(data.Y(i, 0))), rows[static_cast<std::size_t>(i)]) << "row " << i;
  }
  // Text is refused as a feature, but a text column the fit never reads (an id) does no harm.
  expect_file_error(path, [&] { cvxnn::split_targets(table, {"x"}); }, {"column 2 ('kind')", "a feature"});
  const auto with_id = cvxnn::read_csv(write("id.csv", "id,x\nA-1,0.5\nB-2,1.5\n"));
  EXPECT_EQ(cvxnn::select_columns(with_id, {"x"})(1, 0), 1.5);
  // A model's classes code a label column by their own order; unknown labels name their line.
  const std::vector<std::string> model_classes = {"12", "Zeta", "say \"hi\"", "setosa", "versicolor",
                                                  "virginica, big", "\u00e9t\u00e9", "zzz"};
  const Matrix codes = cvxnn::select_label_codes(table, "kind", model_classes);
  EXPECT_TRUE(codes == data.Y);
  expect_error<cvxnn::InvalidInput>(
      [&] { cvxnn::select_label_codes(table, "kind", {"setosa", "versicolor"}); },
      {path, "line 3, column 2 ('kind')", "'virginica, big'", "not one of the model's 2 classes"});
  expect_file_error(path, [&] { cvxnn::select_label_codes(table, "x", model_classes); }, {"only numbers"});
  // Labels are written into JSON model files: they must be UTF-8.
  const auto latin1 = write("latin1.csv", "x,kind\n1,caf\xe9\n2,tea\n");
  expect_file_error(latin1, [&] { cvxnn::split_targets(cvxnn::read_csv(latin1), {"kind"}); },
                    {"line 2, column 2 ('kind')", "not valid UTF-8"});
}

TEST_F(DataTable, CsvFieldsAreQuotedWhereTheReaderNeedsIt) {
  EXPECT_EQ(cvxnn::csv_field("setosa"), "setosa");
  EXPECT_EQ(cvxnn::csv_field("virginica, big"), "\"virginica, big\"");
  EXPECT_EQ(cvxnn::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cvxnn::csv_field(" padded"), "\" padded\"");
  EXPECT_EQ(cvxnn::csv_field(""), "\"\"");
  // What the writer quotes, the reader gives back.
  const std::vector<std::string> labels = {"virginica, big", "say \"hi\"", " padded", "it's"};
  std::string text = "x,label\n";
  for (const std::string& label : labels) text += "1," + cvxnn::csv_field(label) + "\n";
  const auto data = cvxnn::split_targets(cvxnn::read_csv(write("quoted.csv", text)), {"label"});
  std::vector<std::string> sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(data.class_names, sorted);
}

TEST_F(DataTable, NanAndInfAreRejected) {
  for (const std::string cell : {"nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "INF"}) {
    const auto path = write("nan.csv", "a,b\n1,2\n3," + cell + "\n");
    expect_file_error(path, [&] { cvxnn::read_csv(path); },
                      {"line 3, column 2 ('b')", "NaN/Inf", "not allowed"});
  }
  const auto huge = write("huge.csv", "a\n1e400\n");
  expect_file_error(huge, [&] { cvxnn::read_csv(huge); }, {"line 2, column 1 ('a')", "too large"});
}

TEST_F(DataTable, EmptyCellsAreRejected) {
  const auto path = write("hole.csv", "a,b,c\n1,2,3\n1,,3\n");
  expect_file_error(path, [&] { cvxnn::read_csv(path); }, {"line 3, column 2 ('b'): empty cell"});
  const auto trailing = write("trailing.csv", "a,b,c\n1,2,\n");
  expect_file_error(trailing, [&] { cvxnn::read_csv(trailing); },
                    {"line 2, column 3 ('c'): empty cell"});
  const auto spaces = write("spaces.csv", "a,b\n  ,1\n");
  expect_file_error(spaces, [&] { cvxnn::read_csv(spaces); },
                    {"line 2, column 1 ('a'): empty cell"});
}

TEST_F(DataTable, DuplicateAndEmptyHeaderNamesAreRejected) {
  const auto path = write("dup.csv", "a,b,\"a\"\n1,2,3\n");
  expect_file_error(path, [&] { cvxnn::read_csv(path); },
                    {"line 1", "duplicate column name 'a'", "columns 1 and 3"});
  const auto empty = write("noname.csv", "a,,b\n1,2,3\n");
  expect_file_error(empty, [&] { cvxnn::read_csv(empty); },
                    {"line 1, column 2", "empty column name"});
}

TEST_F(DataTable, BlankLineInsideDataAndUnterminatedQuoteAreRejected) {
  const auto path = write("gap.csv", "a,b\n1,2\n\n3,4\n");
  expect_file_error(path, [&] { cvxnn::read_csv(path); }, {"line 3", "blank line"});
  const auto quote = write("quote.csv", "\"a,b\n1,2\n");
  expect_file_error(quote, [&] { cvxnn::read_csv(quote); }, {"line 1", "unterminated quote"});
}

// ---- targets and column selection ----------------------------------------------------------------

TEST_F(DataTable, TargetByNameAndByIndex) {
  const auto table = cvxnn::read_csv(write("t.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n"));
  for (const std::string target : {"c", "2"}) {
    const auto data = cvxnn::split_targets(table, {target});
    EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a", "b", "d"}));
    EXPECT_EQ(data.target_names, (std::vector<std::string>{"c"}));
    ASSERT_EQ(data.X.cols(), 3);
    ASSERT_EQ(data.Y.cols(), 1);
    EXPECT_EQ(data.X(1, 2), 8.0);
    EXPECT_EQ(data.Y(0, 0), 3.0);
    EXPECT_EQ(data.Y(1, 0), 7.0);
  }
}

TEST_F(DataTable, SeveralTargetsKeepTheirGivenOrder) {
  const auto table = cvxnn::read_csv(write("t.csv", "a,b,c,d\n1,2,3,4\n"));
  const auto data = cvxnn::split_targets(table, {"d", "0"});
  EXPECT_EQ(data.target_names, (std::vector<std::string>{"d", "a"}));
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(data.Y(0, 0), 4.0);
  EXPECT_EQ(data.Y(0, 1), 1.0);
  EXPECT_EQ(data.X(0, 0), 2.0);
}

TEST_F(DataTable, NameTakesPrecedenceOverIndex) {
  const auto table = cvxnn::read_csv(write("names.csv", "x,0,y\n10,20,30\n"));
  const auto data = cvxnn::split_targets(table, {"0"});
  EXPECT_EQ(data.target_names, (std::vector<std::string>{"0"}));
  EXPECT_EQ(data.Y(0, 0), 20.0);
  EXPECT_EQ(cvxnn::split_targets(table, {"2"}).target_names, (std::vector<std::string>{"y"}));
}

TEST_F(DataTable, UnknownDuplicateAndMissingTargetsAreRejected) {
  const auto path = write("t.csv", "alpha,beta,gamma\n1,2,3\n");
  const auto table = cvxnn::read_csv(path);
  using cvxnn::InvalidInput;
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {"delta"}); },
                             {path, "'delta'", "available columns", "'alpha'", "'gamma'"});
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {"3"}); }, {path, "'3'"});
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {"-1"}); }, {path, "'-1'"});
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {"beta", "1"}); },
                             {path, "'beta'", "twice", "available columns"});
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {"gamma", "gamma"}); },
                             {path, "'gamma'", "twice"});
  expect_error<InvalidInput>([&] { cvxnn::split_targets(table, {}); }, {path, "no target"});
}

TEST_F(DataTable, LongColumnListsAreTruncatedInMessages) {
  std::string header, row;
  for (int j = 0; j < 30; ++j) {
    header += (j ? ",c" : "c") + std::to_string(j);
    row += (j ? ",1" : "1");
  }
  const auto table = cvxnn::read_csv(write("wide.csv", header + "\n" + row + "\n"));
  try {
    cvxnn::split_targets(table, {"nope"});
    ADD_FAILURE() << "no exception";
  } catch (const cvxnn::InvalidInput& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'c19'"), std::string::npos) << message;
    EXPECT_NE(message.find("10 more"), std::string::npos) << message;
    EXPECT_EQ(message.find("'c25'"), std::string::npos) << message;
  }
}

TEST_F(DataTable, SelectColumnsByNameInGivenOrder) {
  const auto path = write("s.csv", "a,b,c\n1,2,3\n4,5,6\n");
  const auto table = cvxnn::read_csv(path);
  const Matrix picked = cvxnn::select_columns(table, {"c", "a"});
  ASSERT_EQ(picked.cols(), 2);
  EXPECT_EQ(picked(0, 0), 3.0);
  EXPECT_EQ(picked(1, 1), 4.0);
  expect_error<cvxnn::InvalidInput>([&] { cvxnn::select_columns(table, {"a", "zzz"}); },
                                    {path, "'zzz'", "not found"});
  // For CSV, names are names: an index string is not a column name.
  expect_error<cvxnn::InvalidInput>([&] { cvxnn::select_columns(table, {"0"}); }, {path, "'0'"});
}

// ---- .npy ------------------------------------------------------------------------------------------

TEST_F(DataTable, NpyFloat64CAndFortranOrder) {
  // The 2×3 matrix [[1, 2, 3], [4, 5, 6]] + 0.1, stored row by row and column by column.
  const std::vector<double> c_order{1.1, 2.1, 3.1, 4.1, 5.1, 6.1};
  const std::vector<double> f_order{1.1, 4.1, 2.1, 5.1, 3.1, 6.1};
  for (const bool fortran : {false, true}) {
    const auto path = write("m.npy", npy_file("<f8", fortran, "(2, 3)",
                                              raw_bytes(fortran ? f_order : c_order)));
    const auto table = cvxnn::read_npy(path);
    ASSERT_EQ(table.values.rows(), 2);
    ASSERT_EQ(table.values.cols(), 3);
    EXPECT_FALSE(table.has_header_names);
    EXPECT_EQ(table.column_names, (std::vector<std::string>{"0", "1", "2"}));
    for (int k = 0; k < 6; ++k) EXPECT_EQ(bits(table.values(k / 3, k % 3)), bits(c_order[k]));
  }
}

TEST_F(DataTable, NpyFloat32AndIntegers) {
  const std::vector<float> f32{0.1f, -2.5f, 3e-30f, 7.0f};
  auto table = cvxnn::read_npy(write("f4.npy", npy_file("<f4", false, "(2, 2)", raw_bytes(f32))));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(table.values(k / 2, k % 2), static_cast<double>(f32[k]));

  const std::vector<std::int64_t> i64{-3, 1LL << 40, 0, 9};
  table = cvxnn::read_npy(write("i8.npy", npy_file("<i8", true, "(2, 2)", raw_bytes(i64))));
  EXPECT_EQ(table.values(0, 0), -3.0);
  EXPECT_EQ(table.values(1, 0), std::ldexp(1.0, 40));  // Fortran order: second stored = (1, 0)
  EXPECT_EQ(table.values(0, 1), 0.0);

  const std::vector<std::int32_t> i32{-2147483647 - 1, 5, 6};
  table = cvxnn::read_npy(write("i4.npy", npy_file("<i4", false, "(3,)", raw_bytes(i32))));
  ASSERT_EQ(table.values.cols(), 1);
  ASSERT_EQ(table.values.rows(), 3);
  EXPECT_EQ(table.values(0, 0), -2147483648.0);
  EXPECT_EQ(table.values(2, 0), 6.0);
}

TEST_F(DataTable, NpyVersions2And3) {
  const std::vector<double> values{1.5, -2.5};
  for (const int major : {2, 3}) {
    const auto table =
        cvxnn::read_npy(write("v.npy", npy_file("<f8", false, "(1, 2)", raw_bytes(values), major)));
    EXPECT_EQ(table.values(0, 1), -2.5);
  }
}

TEST_F(DataTable, ReadTableDispatchesOnExtension) {
  const std::vector<double> values{1.0, 2.0};
  const auto npy = write("upper.NPY", npy_file("<f8", false, "(2,)", raw_bytes(values)));
  EXPECT_FALSE(cvxnn::read_table(npy).has_header_names);
  const auto txt = write("data.txt", "a\n1\n");
  EXPECT_TRUE(cvxnn::read_table(txt).has_header_names);
  const auto csv = write("data.csv", "a\n1\n");
  EXPECT_EQ(cvxnn::read_table(csv).column_names, (std::vector<std::string>{"a"}));
}

TEST_F(DataTable, NpyTargetsAndSelectionUseIndices) {
  const std::vector<double> values{1, 2, 3, 4, 5, 6};
  const auto table = cvxnn::read_npy(write("t.npy", npy_file("<f8", false, "(2, 3)", raw_bytes(values))));
  const auto data = cvxnn::split_targets(table, {"1"});
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(data.Y(1, 0), 5.0);
  const Matrix picked = cvxnn::select_columns(table, {"2", "0"});
  EXPECT_EQ(picked(0, 0), 3.0);
  EXPECT_EQ(picked(1, 1), 4.0);
  expect_error<cvxnn::InvalidInput>([&] { cvxnn::split_targets(table, {"5"}); },
                                    {table.source, "'5'", "0 to 2"});
}

TEST_F(DataTable, BadNpyFilesAreRejected) {
  const auto eight = raw_bytes(std::vector<double>{1, 2, 3, 4});
  struct Case {
    std::string name, bytes;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases{
      {"magic.npy", "PK\x03\x04 not numpy at all", {"magic"}},
      {"short.npy", "\x93NUM", {"magic"}},
      {"version.npy", "\x93NUMPY\x04" + std::string(1, '\0') + "xxxxxxxx", {"version 4"}},
      {"c16.npy", npy_file("<c16", false, "(2,)", eight), {"'<c16'", "'<f8'", "'<f4'", "'<i8'", "'<i4'"}},
      {"big.npy", npy_file(">f8", false, "(2, 2)", eight), {"'>f8'", "supported"}},
      {"u8.npy", npy_file("|u1", false, "(2, 2)", eight), {"'|u1'", "supported"}},
      {"truncated.npy", npy_file("<f8", false, "(3, 2)", eight), {"truncated", "48", "32"}},
      {"header.npy", npy_file("<f8", false, "(2, 2)", "").substr(0, 30), {"truncated", "header"}},
      {"dims.npy", npy_file("<f8", false, "(1, 2, 2)", eight), {"3 dimensions"}},
      {"scalar.npy", npy_file("<f8", false, "()", eight), {"0-dimensional"}},
      {"rows.npy", npy_file("<f8", false, "(0, 3)", ""), {"no data rows"}},
      {"cols.npy", npy_file("<f8", false, "(3, 0)", ""), {"no columns"}},
      {"nan.npy", npy_file("<f8", false, "(2, 2)",
                           raw_bytes(std::vector<double>{1, 2, std::nan(""), 4})),
       {"row 1, column 0", "NaN/Inf"}},
  };
  for (const auto& c : cases) {
    const auto path = write(c.name, c.bytes);
    expect_file_error(path, [&] { cvxnn::read_npy(path); }, c.parts);
  }
  std::string garbled = npy_file("<f8", false, "(2, 2)", eight);
  garbled.replace(garbled.find("'shape'"), 7, "'shape''");
  const auto path = write("garbled.npy", garbled);
  expect_file_error(path, [&] { cvxnn::read_npy(path); }, {"malformed .npy header"});

  std::string structured = npy_file("<f8", false, "(2,)", eight);
  structured.replace(structured.find("'<f8'"), 5, "[('a', '<f8')]");
  const auto record = write("record.npy", structured);
  expect_file_error(record, [&] { cvxnn::read_npy(record); }, {"structured", "supported"});
}

// Files written by NumPy itself, so the reader is checked against the real format, not only
// against our understanding of it.
TEST_F(DataTable, NpyFilesWrittenByNumpy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  }
  const auto script = write("make.py", R"(import sys
import numpy as np
from numpy.lib import format as npformat
d = sys.argv[1]
a = np.array([[0.1, 1/3, -2.5e17], [1e-300, 5.0, -0.0]])
np.save(d + '/c64.npy', a)
np.save(d + '/f64.npy', np.asfortranarray(a))
np.save(d + '/f32.npy', a.astype(np.float32))
np.save(d + '/i64.npy', np.array([[1, -2, 3], [4, 5, -(2**40)]], dtype=np.int64))
np.save(d + '/i32.npy', np.asfortranarray(np.array([[1, -2, 3], [4, 5, 6]], dtype=np.int32)))
np.save(d + '/vec.npy', np.array([1.5, 2.5, 3.5]))
for v in [(2, 0), (3, 0)]:
    with open(d + '/v%d.npy' % v[0], 'wb') as f:
        npformat.write_array(f, a, version=v)
)");
  const auto command = "/usr/bin/python3 '" + script + "' '" + dir_.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  const double a[2][3] = {{0.1, 1.0 / 3, -2.5e17}, {1e-300, 5.0, -0.0}};
  for (const std::string name : {"c64.npy", "f64.npy", "v2.npy", "v3.npy"}) {
    const auto table = cvxnn::read_npy((dir_ / name).string());
    ASSERT_EQ(table.values.rows(), 2) << name;
    ASSERT_EQ(table.values.cols(), 3) << name;
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) EXPECT_EQ(bits(table.values(i, j)), bits(a[i][j])) << name;
    }
  }
  const auto f32 = cvxnn::read_npy((dir_ / "f32.npy").string());
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(bits(f32.values(i, j)), bits(static_cast<double>(static_cast<float>(a[i][j]))));
    }
  }
  const auto i64 = cvxnn::read_npy((dir_ / "i64.npy").string());
  EXPECT_EQ(i64.values(0, 1), -2.0);
  EXPECT_EQ(i64.values(1, 2), -std::ldexp(1.0, 40));
  const auto i32 = cvxnn::read_npy((dir_ / "i32.npy").string());
  EXPECT_EQ(i32.values(0, 2), 3.0);
  EXPECT_EQ(i32.values(1, 0), 4.0);
  const auto vec = cvxnn::read_table((dir_ / "vec.npy").string());
  ASSERT_EQ(vec.values.cols(), 1);
  EXPECT_EQ(vec.values(2, 0), 3.5);
}

// ---- writing ---------------------------------------------------------------------------------------

TEST_F(DataTable, WriteCsvRoundTripIsBitExact) {
  const std::vector<double> samples{0.1,
                                    1.0 / 3,
                                    1e-300,
                                    -2.5e17,
                                    std::numeric_limits<double>::denorm_min(),
                                    std::numeric_limits<double>::max(),
                                    -std::numeric_limits<double>::min(),
                                    -0.0,
                                    0.0,
                                    123456789.123456789,
                                    9007199254740993.0,
                                    -1.0 / 7};
  Matrix values(static_cast<Eigen::Index>(samples.size()) / 2, 2);
  for (std::size_t k = 0; k < samples.size(); ++k) {
    values(static_cast<Eigen::Index>(k / 2), static_cast<Eigen::Index>(k % 2)) = samples[k];
  }
  const auto path = (dir_ / "round.csv").string();
  cvxnn::write_csv(path, values, {"first", "second"});
  const auto table = cvxnn::read_csv(path);
  EXPECT_EQ(table.column_names, (std::vector<std::string>{"first", "second"}));
  ASSERT_EQ(table.values.rows(), values.rows());
  for (Eigen::Index i = 0; i < values.rows(); ++i) {
    for (Eigen::Index j = 0; j < 2; ++j) {
      EXPECT_EQ(bits(table.values(i, j)), bits(values(i, j))) << "row " << i << ", column " << j;
    }
  }
}

TEST_F(DataTable, WriteCsvUsesShortestText) {
  Matrix values(1, 3);
  values << 0.1, -2.5e17, 3.0;
  const auto path = (dir_ / "short.csv").string();
  cvxnn::write_csv(path, values, {"a", "b", "c"});
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "a,b,c\n0.1,-2.5e+17,3\n");
}

TEST_F(DataTable, WriteCsvIsLocaleIndependent) {
  const char* previous = std::setlocale(LC_ALL, nullptr);
  const std::string saved = previous ? previous : "C";
  if (std::setlocale(LC_ALL, "de_DE.UTF-8") == nullptr &&
      std::setlocale(LC_ALL, "fr_FR.UTF-8") == nullptr) {
    GTEST_SKIP() << "no decimal-comma locale installed";
  }
  Matrix values(1, 2);
  values << 0.5, 1.25;
  const auto path = (dir_ / "locale.csv").string();
  cvxnn::write_csv(path, values, {"a", "b"});
  const auto table = cvxnn::read_csv(path);
  std::setlocale(LC_ALL, saved.c_str());
  EXPECT_EQ(table.values(0, 1), 1.25);
}

TEST_F(DataTable, WriteCsvQuotesAwkwardNames) {
  const std::vector<std::string> names{"a,b", "say \"hi\"", " padded ", "plain"};
  Matrix values = Matrix::Ones(1, 4);
  const auto path = (dir_ / "names.csv").string();
  cvxnn::write_csv(path, values, names);
  EXPECT_EQ(cvxnn::read_csv(path).column_names, names);
  expect_error<cvxnn::InvalidInput>([&] { cvxnn::write_csv(path, values, {"a", "b"}); },
                                    {"2 column names for 4 columns"});
  expect_error<cvxnn::InvalidInput>(
      [&] { cvxnn::write_csv(path, Matrix::Ones(1, 1), {"line\nbreak"}); }, {"line break"});
}

TEST_F(DataTable, AtomicWriteLeavesOnlyTheTarget) {
  const auto path = (dir_ / "out.csv").string();
  cvxnn::write_text_file_atomically(path, "old contents\n");
  cvxnn::write_csv(path, Matrix::Constant(2, 1, 0.25), {"y"});
  EXPECT_EQ(files_in_dir(), (std::set<std::string>{"out.csv"}));
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "y\n0.25\n0.25\n");
}

TEST_F(DataTable, FailedWritesThrowAndLeaveNoTemporaryFile) {
  const auto no_dir = (dir_ / "no" / "such" / "dir" / "out.csv").string();
  expect_file_error(no_dir, [&] { cvxnn::write_text_file_atomically(no_dir, "x"); }, {"cannot"});

  // Renaming a file over a directory fails after the temporary file was written.
  const auto occupied = dir_ / "occupied.csv";
  fs::create_directories(occupied / "inside");
  expect_file_error(occupied.string(),
                    [&] { cvxnn::write_csv(occupied.string(), Matrix::Ones(1, 1), {"a"}); },
                    {"cannot"});
  EXPECT_EQ(files_in_dir(), (std::set<std::string>{"occupied.csv"}));
}

// ---- the bundled example ---------------------------------------------------------------------------

TEST(DataExample, DiabetesCsvMatchesScikitLearn) {
  const auto table = cvxnn::read_csv(std::string(CVXNN_EXAMPLES_DIR) + "/data/diabetes.csv");
  ASSERT_EQ(table.values.rows(), 442);
  ASSERT_EQ(table.values.cols(), 11);
  EXPECT_EQ(table.column_names,
            (std::vector<std::string>{"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5",
                                      "s6", "target"}));
  const std::vector<double> first{59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87, 151};
  for (Eigen::Index j = 0; j < 11; ++j) {
    EXPECT_EQ(table.values(0, j), first[static_cast<std::size_t>(j)]);
  }
  const auto data = cvxnn::split_targets(table, {"target"});
  EXPECT_EQ(data.X.cols(), 10);
  EXPECT_EQ(data.Y(441, 0), 57.0);  // the last target of load_diabetes
}

}  // namespace
