// Model files (io/model_file.hpp): bit-exact round trips of awkward doubles, the JSON layout,
// rejection of unknown versions and malformed files with messages naming the field, atomic
// writes (no temporary file left behind), and locale independence under a real comma-decimal
// locale (generated with localedef when none is installed).
#include "cvxnn/io/model_file.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <locale>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kTiny = 1e-300;
constexpr double kHuge = -2.5e17;
const double kThird = 1.0 / 3.0;
const double kDenormal = std::numeric_limits<double>::denorm_min();
const double kMax = std::numeric_limits<double>::max();

// A gated model with every optional part filled, and values that need all 17 digits.
Model awkward_model() {
  Model m;
  m.formulation = Formulation::gated;
  m.beta = kThird;
  m.feature_names = {"x1", "température", "comma,name", "quote\"d"};
  m.target_names = {"y"};
  Preprocessing& p = m.preprocessing;
  p.center = Vector(4);
  p.center << 0.1, kHuge, -0.0, kThird;
  p.scale = Vector(4);
  p.scale << kThird, kTiny, 0.1, 2.5e17;
  p.bias = true;
  p.target_center = Vector::Constant(1, -0.1);
  p.target_scale = Vector::Constant(1, kThird);
  const Index d = 5, width = 3;
  m.network.W1.resize(width, d);
  m.network.W1 << 0.1, kThird, kTiny, kHuge, kDenormal,  //
      -0.0, kMax, -kThird, 1e-310, 123456789.123456789,  //
      std::nextafter(1.0, 2.0), -std::nextafter(0.1, 1.0), 0.2, 0.3, 7.0;
  m.network.W2.resize(1, width);
  m.network.W2 << kThird, -kTiny, 2.5e17;
  m.network.gates = test::random_matrix(width, d, 5);
  m.network.gates(0, 0) = 0.0;
  m.pattern_gates = test::random_matrix(6, d, 6);
  m.pattern_gates(2, 3) = kThird;
  m.pattern_signs = test::random_signs(6, 1, 7);
  m.pattern_source = PatternSource::network_init;
  m.patterns_complete = false;
  m.pattern_seed = 12345;
  m.certificate.primal = 0.1;
  m.certificate.dual = kThird * 0.3;
  m.certificate.gap = m.certificate.primal - m.certificate.dual;
  m.certificate.relative_gap = m.certificate.gap / m.certificate.primal;
  m.certificate.scope = CertificateScope::global;
  m.certificate.constraint_violation = kTiny;
  m.training.method = "convex";
  m.training.samples = 7;
  m.training.input_features = 4;
  m.training.outputs = 1;
  m.training.status = "converged";
  m.training.iterations = 42;
  m.training.seconds = 0.125;
  m.training.tol = 1e-8;
  return m;
}

Model relu_model() {
  Model m = awkward_model();
  m.formulation = Formulation::relu;
  m.network.gates.resize(0, 0);
  m.pattern_signs.resize(0, 0);
  m.pattern_source = PatternSource::enumerated;
  m.patterns_complete = true;
  return m;
}

template <typename A, typename B>
bool bit_equal(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0);
}

bool bit_equal_double(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

void expect_models_identical(const Model& a, const Model& b) {
  EXPECT_EQ(a.formulation, b.formulation);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_TRUE(bit_equal_double(a.beta, b.beta));
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.target_names, b.target_names);
  EXPECT_TRUE(bit_equal(a.preprocessing.center, b.preprocessing.center));
  EXPECT_TRUE(bit_equal(a.preprocessing.scale, b.preprocessing.scale));
  EXPECT_EQ(a.preprocessing.bias, b.preprocessing.bias);
  EXPECT_TRUE(bit_equal(a.preprocessing.target_center, b.preprocessing.target_center));
  EXPECT_TRUE(bit_equal(a.preprocessing.target_scale, b.preprocessing.target_scale));
  EXPECT_TRUE(bit_equal(a.network.W1, b.network.W1)) << "W1\n" << a.network.W1 << "\nvs\n" << b.network.W1;
  EXPECT_TRUE(bit_equal(a.network.W2, b.network.W2));
  EXPECT_TRUE(bit_equal(a.network.gates, b.network.gates));
  EXPECT_EQ(a.network.gated(), b.network.gated());
  EXPECT_TRUE(bit_equal(a.pattern_gates, b.pattern_gates));
  EXPECT_TRUE(bit_equal(a.pattern_signs, b.pattern_signs));
  EXPECT_EQ(a.pattern_source, b.pattern_source);
  EXPECT_EQ(a.patterns_complete, b.patterns_complete);
  EXPECT_EQ(a.pattern_seed, b.pattern_seed);
  EXPECT_TRUE(bit_equal_double(a.certificate.primal, b.certificate.primal));
  EXPECT_TRUE(bit_equal_double(a.certificate.dual, b.certificate.dual));
  EXPECT_TRUE(bit_equal_double(a.certificate.gap, b.certificate.gap));
  EXPECT_TRUE(bit_equal_double(a.certificate.relative_gap, b.certificate.relative_gap));
  EXPECT_EQ(a.certificate.scope, b.certificate.scope);
  EXPECT_TRUE(bit_equal_double(a.certificate.constraint_violation, b.certificate.constraint_violation));
  EXPECT_EQ(a.training.method, b.training.method);
  EXPECT_EQ(a.training.samples, b.training.samples);
  EXPECT_EQ(a.training.input_features, b.training.input_features);
  EXPECT_EQ(a.training.outputs, b.training.outputs);
  EXPECT_EQ(a.training.status, b.training.status);
  EXPECT_EQ(a.training.iterations, b.training.iterations);
  EXPECT_TRUE(bit_equal_double(a.training.seconds, b.training.seconds));
  EXPECT_TRUE(bit_equal_double(a.training.tol, b.training.tol));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> directory_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Parses `j` (after an edit) and expects a FileError whose message names the file and `field`.
void expect_rejected(const json& j, const std::string& field, const std::string& context) {
  test::expect_throws_with<FileError>([&] { model_from_json(j.dump(), "edited.json"); }, {"edited.json", field},
                                      context);
}

// ---- round trips -----------------------------------------------------------------------------------

TEST(ModelFile, RoundTripIsBitExact) {
  test::TempDir dir;
  for (const Model& m : {awkward_model(), relu_model()}) {
    const std::string path = dir.file(m.network.gated() ? "gated.json" : "relu.json");
    save_model(m, path);
    const Model back = load_model(path);
    expect_models_identical(m, back);
    EXPECT_TRUE(std::signbit(back.network.W1(1, 0))) << "-0.0 keeps its sign";
    EXPECT_EQ(back.network.W1(0, 4), kDenormal);
    // And the text form alone.
    expect_models_identical(m, model_from_json(model_to_json(m)));
    // Saving the loaded model gives the same bytes.
    const std::string again = dir.file("again.json");
    save_model(back, again);
    EXPECT_EQ(read_text(path), read_text(again));
  }
}

// A classifier trained on text labels keeps them in the "class_labels" field the Python classifier
// writes ({"dtype": NumPy's "<U" + longest length in code points, "values": [...]}).
TEST(ModelFile, TextClassLabelsRoundTripInThePythonLayout) {
  Model m = awkward_model();
  m.loss = "logistic";
  m.classes = Vector::LinSpaced(2, 0.0, 1.0);
  m.class_names = {"caf\u00e9, noir", "th\u00e9"};
  const json j = json::parse(model_to_json(m));
  EXPECT_EQ(j["class_labels"]["dtype"], "<U10");  // 10 code points, 11 bytes
  EXPECT_EQ(j["class_labels"]["values"], json(m.class_names));
  const Model back = model_from_json(model_to_json(m));
  expect_models_identical(m, back);
  EXPECT_EQ(back.class_names, m.class_names);
  EXPECT_EQ(back.class_label(1), "th\u00e9");
  m.class_names.clear();
  EXPECT_EQ(m.class_label(1), "1");
  EXPECT_FALSE(json::parse(model_to_json(m)).contains("class_labels"));

  // Labels of other dtypes are the Python classifier's own business: read as numeric classes.
  json ints = j;
  ints["class_labels"] = {{"dtype", "<i8"}, {"values", {0, 1}}};
  EXPECT_TRUE(model_from_json(ints.dump()).class_names.empty());
  ints["class_labels"] = {{"dtype", "object"}, {"values", {0, 1}}};
  EXPECT_TRUE(model_from_json(ints.dump()).class_names.empty());
  // Python objects that are all strings (pandas' string columns) are text labels too.
  json objects = j;
  objects["class_labels"]["dtype"] = "object";
  EXPECT_EQ(model_from_json(objects.dump()).class_names, j["class_labels"]["values"].get<std::vector<std::string>>());
  // Wrong counts, order, codes, and labels on a regression model are refused by name.
  json wrong = j;
  wrong["class_labels"]["values"] = {"a", "b", "c"};
  expect_rejected(wrong, "class_labels", "three labels for two classes");
  wrong["class_labels"]["values"] = {"b", "a"};
  expect_rejected(wrong, "class_labels", "unsorted labels");
  wrong = j;
  wrong["classes"] = {3.0, 7.0};
  expect_rejected(wrong, "classes", "text labels with classes that are not their codes");
  wrong = j;
  wrong["class_labels"] = "setosa";
  expect_rejected(wrong, "class_labels", "not an object");
  wrong = j;
  wrong["loss"] = "squared";
  wrong.erase("classes");
  expect_rejected(wrong, "class_labels", "labels on a regression model");
}

TEST(ModelFile, LargeSeedsRoundTripExactly) {
  // Seeds are 64-bit integers; above 2^53 a detour through double loses them.
  for (std::uint64_t seed : {std::uint64_t{0}, (std::uint64_t{1} << 53) + 1, std::uint64_t{18446744073709551557ULL},
                             std::numeric_limits<std::uint64_t>::max()}) {
    Model m = awkward_model();
    m.pattern_seed = seed;
    EXPECT_EQ(model_from_json(model_to_json(m)).pattern_seed, seed) << "seed " << seed;
  }
}

TEST(ModelFile, PredictReplaysPreprocessingAndNetwork) {
  Model m = relu_model();
  m.preprocessing.scale << 0.5, 2.0, 0.1, 3.0;  // moderate scales for a meaningful comparison
  m.preprocessing.center << 0.1, -1.0, 0.0, 2.0;
  m.network.W1 = test::random_matrix(3, 5, 8);
  m.network.W2 = test::random_matrix(1, 3, 9);
  const Matrix raw = test::random_matrix(6, 4, 10);
  const Matrix got = m.predict(raw);
  ASSERT_EQ(got.rows(), 6);
  ASSERT_EQ(got.cols(), 1);
  for (Index k = 0; k < 6; ++k) {
    double f = 0.0;
    for (Index j = 0; j < 3; ++j) {
      double z = m.network.W1(j, 4);  // bias column last
      for (Index c = 0; c < 4; ++c) {
        z += m.network.W1(j, c) * (raw(k, c) - m.preprocessing.center(c)) / m.preprocessing.scale(c);
      }
      f += std::max(z, 0.0) * m.network.W2(0, j);
    }
    const double expected = f * m.preprocessing.target_scale(0) + m.preprocessing.target_center(0);
    EXPECT_NEAR(got(k, 0), expected, 1e-12 * (1.0 + std::abs(expected)));
  }
}

// ---- layout --------------------------------------------------------------------------------------------

TEST(ModelFile, IsValidVersionedJson) {
  test::TempDir dir;
  const std::string path = dir.file("m.json");
  save_model(awkward_model(), path);
  const json j = json::parse(read_text(path));
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("format_version"));
  EXPECT_TRUE(j["format_version"].is_number_integer());
  EXPECT_EQ(j["format_version"].get<int>(), 1);
  EXPECT_EQ(j["format"], "cvxnn-model");
  EXPECT_EQ(j["formulation"], "gated");
  EXPECT_EQ(j["network"]["activation"], "gated_relu");
  EXPECT_EQ(j["network"]["W1"].size(), 3u);
  EXPECT_EQ(j["network"]["W1"][0].size(), 5u);
  EXPECT_EQ(j["certificate"]["scope"], "global");
  // Doubles are written in their shortest round-trip form.
  const std::string text = read_text(path);
  EXPECT_NE(text.find("0.1,"), std::string::npos);
  EXPECT_NE(text.find("0.3333333333333333"), std::string::npos);
  EXPECT_NE(text.find("1e-300"), std::string::npos);
  EXPECT_EQ(relu_model().network.gated(), false);
  EXPECT_FALSE(json::parse(model_to_json(relu_model()))["network"].contains("gates"));
}

// ---- rejection ---------------------------------------------------------------------------------------------

TEST(ModelFile, UnknownVersionIsRejected) {
  const json good = json::parse(model_to_json(awkward_model()));
  for (const json& v : {json(2), json(0), json("1"), json(1.5), json(nullptr)}) {
    json j = good;
    j["format_version"] = v;
    test::expect_throws_with<FileError>([&] { model_from_json(j.dump(), "v.json"); }, {"v.json", "version"},
                                        "version " + v.dump());
  }
}

TEST(ModelFile, MalformedJsonAndMissingFileAreRejected) {
  const std::string text = model_to_json(awkward_model());
  test::expect_throws_with<FileError>([&] { model_from_json(text.substr(0, text.size() / 2), "half.json"); },
                                      {"half.json", "JSON"});
  test::expect_throws_with<FileError>([&] { model_from_json("", "empty.json"); }, {"empty.json"});
  test::expect_throws_with<FileError>([&] { model_from_json("[1, 2, 3]", "array.json"); }, {"array.json", "format"});
  test::expect_throws_with<FileError>([&] { model_from_json("{\"format\": \"other\"}", "other.json"); },
                                      {"other.json", "format"});
  test::TempDir dir;
  const std::string missing = dir.file("does_not_exist.json");
  test::expect_throws_with<FileError>([&] { load_model(missing); }, {missing});
  // A directory is not a model file either.
  test::expect_throws_with<FileError>([&] { load_model(dir.path().string()); }, {dir.path().string()});
}

TEST(ModelFile, EveryMissingTopLevelFieldIsNamed) {
  const json good = json::parse(model_to_json(awkward_model()));
  int checked = 0;
  for (const auto& item : good.items()) {
    if (item.key() == "penalty") continue;  // optional: files from before it existed are group models
    json j = good;
    j.erase(item.key());
    expect_rejected(j, item.key(), "without top-level '" + item.key() + "'");
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(ModelFile, PenaltyIsReadBackAndDefaultsToGroup) {
  Model model = awkward_model();
  model.penalty = "nuclear";
  json j = json::parse(model_to_json(model));
  EXPECT_EQ(j["penalty"], "nuclear");
  EXPECT_EQ(model_from_json(j.dump(), "nuclear.json").penalty_kind(), PenaltyKind::nuclear);
  j.erase("penalty");
  EXPECT_EQ(model_from_json(j.dump(), "old.json").penalty, "group");
  j["penalty"] = "trace";
  expect_rejected(j, "penalty", "with an unknown penalty");
}

TEST(ModelFile, EveryMissingNestedFieldIsNamed) {
  const json good = json::parse(model_to_json(awkward_model()));
  // Fields that are redundant (derived from others) or optional are not required.
  const std::vector<std::string> not_required{"network.outputs", "patterns.count", "patterns.signs"};
  int checked = 0;
  for (const char* section : {"preprocessing", "network", "patterns", "certificate", "training"}) {
    for (const auto& item : good[section].items()) {
      const std::string name = std::string(section) + "." + item.key();
      if (std::find(not_required.begin(), not_required.end(), name) != not_required.end()) continue;
      json j = good;
      j[section].erase(item.key());
      expect_rejected(j, name, "without '" + name + "'");
      ++checked;
    }
  }
  EXPECT_GE(checked, 25);
}

TEST(ModelFile, WrongShapesAreRejectedNamingTheField) {
  const json good = json::parse(model_to_json(awkward_model()));
  {
    json j = good;  // W2 with one column too many
    for (auto& row : j["network"]["W2"]) row.push_back(1.0);
    expect_rejected(j, "network.W2", "W2 with 4 columns");
  }
  {
    json j = good;  // W2 with a missing column
    for (auto& row : j["network"]["W2"]) row.erase(row.size() - 1);
    expect_rejected(j, "network.W2", "W2 with 2 columns");
  }
  {
    json j = good;  // W2 with two output rows but one target
    j["network"]["W2"].push_back(j["network"]["W2"][0]);
    expect_rejected(j, "network.W2", "W2 with 2 rows");
  }
  {
    json j = good;  // a W1 row of the wrong length
    j["network"]["W1"][1].erase(0);
    expect_rejected(j, "network.W1", "short W1 row");
  }
  {
    json j = good;  // W1 rows ≠ width
    j["network"]["W1"].erase(0);
    expect_rejected(j, "network.W1", "W1 with too few rows");
  }
  {
    json j = good;
    j["network"]["gates"].erase(0);
    expect_rejected(j, "network", "gates with too few rows");
  }
  {
    json j = good;
    j["network"]["input_dim"] = 7;
    expect_rejected(j, "network.input_dim", "input_dim mismatch");
  }
  {
    json j = good;
    j["preprocessing"]["center"].push_back(0.0);
    expect_rejected(j, "preprocessing", "center too long");
  }
  {
    json j = good;
    j["preprocessing"]["target_scale"] = json::array();
    expect_rejected(j, "preprocessing", "no target scale");
  }
  {
    json j = good;
    j["preprocessing"]["scale"][1] = 0.0;
    expect_rejected(j, "preprocessing", "zero scale");
  }
  {
    json j = good;
    j["patterns"]["gates"][0].push_back(1.0);
    expect_rejected(j, "patterns.gates", "pattern gate too long");
  }
  {
    json j = good;
    j["patterns"]["signs"].erase(0);
    expect_rejected(j, "patterns.signs", "signs rows ≠ gates rows");
  }
}

TEST(ModelFile, WrongTypesAndValuesAreRejectedNamingTheField) {
  const json good = json::parse(model_to_json(awkward_model()));
  struct Edit {
    std::vector<std::string> path;
    json value;
    std::string field;
  };
  const std::vector<Edit> edits{
      {{"beta"}, "abc", "beta"},
      {{"beta"}, -1.0, "beta"},
      {{"beta"}, 0.0, "beta"},
      {{"formulation"}, "lstm", "formulation"},
      {{"formulation"}, 3, "formulation"},
      {{"loss"}, "hinge", "loss"},
      {{"features"}, 3, "features"},
      {{"features"}, json::array({"a", 1, "c", "d"}), "features"},
      {{"targets"}, "y", "targets"},
      {{"preprocessing", "bias"}, 1, "preprocessing.bias"},
      {{"preprocessing", "center"}, "0.1", "preprocessing.center"},
      {{"preprocessing", "scale"}, json::array({1.0, "x", 1.0, 1.0}), "preprocessing.scale"},
      {{"network", "W1"}, "W1", "network.W1"},
      {{"network", "width"}, -3, "network.width"},
      {{"network", "width"}, 2.5, "network.width"},
      {{"network", "activation"}, "tanh", "network.activation"},
      {{"patterns", "source"}, "oracle", "patterns.source"},
      {{"patterns", "complete"}, "yes", "patterns.complete"},
      {{"patterns", "seed"}, "seven", "patterns.seed"},
      {{"certificate", "primal"}, true, "certificate.primal"},
      {{"certificate", "scope"}, "cosmic", "certificate.scope"},
      {{"training", "samples"}, -1, "training.samples"},
      {{"training", "iterations"}, 1.5, "training.iterations"},
      {{"training", "status"}, 3, "training.status"},
      {{"training", "seconds"}, "fast", "training.seconds"},
  };
  for (const Edit& e : edits) {
    json j = good;
    json* target = &j;
    for (const std::string& key : e.path) target = &(*target)[key];
    *target = e.value;
    expect_rejected(j, e.field, "with " + e.field + " = " + e.value.dump());
  }
  {
    json j = good;
    j["network"]["W1"][0][2] = "x";
    expect_rejected(j, "network.W1", "a string inside W1");
  }
  {
    json j = good;
    j["network"]["W1"][0][2] = nullptr;
    expect_rejected(j, "network.W1", "null inside W1");
  }
}

// ---- writing ----------------------------------------------------------------------------------------------

TEST(ModelFile, SaveIsAtomicAndLeavesNoTemporaryFile) {
  test::TempDir dir;
  const std::string path = dir.file("model.json");
  save_model(awkward_model(), path);
  EXPECT_EQ(directory_entries(dir.path()), std::vector<std::string>{"model.json"});
  // Overwriting replaces the contents and still leaves one file.
  save_model(relu_model(), path);
  EXPECT_EQ(directory_entries(dir.path()), std::vector<std::string>{"model.json"});
  EXPECT_EQ(load_model(path).formulation, Formulation::relu);
  // An invalid network is refused before anything is written.
  Model bad = awkward_model();
  bad.network.W2 = Matrix::Ones(1, 7);
  EXPECT_THROW(save_model(bad, dir.file("bad.json")), InvalidInput);
  EXPECT_EQ(directory_entries(dir.path()), std::vector<std::string>{"model.json"});
  // A directory that does not exist: FileError naming the path, nothing created.
  const std::string nowhere = (dir.path() / "missing_dir" / "m.json").string();
  test::expect_throws_with<FileError>([&] { save_model(awkward_model(), nowhere); }, {"m.json"});
  EXPECT_EQ(directory_entries(dir.path()), std::vector<std::string>{"model.json"});
  // A failed write does not destroy the previous file.
  EXPECT_EQ(load_model(path).formulation, Formulation::relu);
}

// ---- locale independence ------------------------------------------------------------------------------------

// A locale whose decimal separator is ',': an installed one, or de_DE generated with localedef
// into a temporary directory (found through LOCPATH).
std::optional<std::locale> comma_locale(const test::TempDir& dir) {
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", "nl_NL.UTF-8"}) {
    try {
      return std::locale(name);
    } catch (const std::exception&) {
    }
  }
  if (std::system("command -v localedef > /dev/null 2>&1") != 0) return std::nullopt;
  const std::string target = (dir.path() / "de_DE.UTF-8").string();
  const std::string command = "localedef -i de_DE -f UTF-8 '" + target + "' > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  ::setenv("LOCPATH", dir.path().c_str(), 1);
  try {
    return std::locale("de_DE.UTF-8");
  } catch (const std::exception&) {
    ::unsetenv("LOCPATH");
    return std::nullopt;
  }
}

struct GlobalLocaleGuard {
  ~GlobalLocaleGuard() {
    std::locale::global(std::locale::classic());
    std::setlocale(LC_ALL, "C");
    ::unsetenv("LOCPATH");
  }
};

TEST(ModelFile, TextIsLocaleIndependent) {
  test::TempDir locale_dir("cvxnn_locale");
  const std::optional<std::locale> loc = comma_locale(locale_dir);
  if (!loc) GTEST_SKIP() << "no comma-decimal locale available (and localedef could not make one)";
  GlobalLocaleGuard guard;
  std::locale::global(*loc);  // a named locale: also sets the C locale
  if (std::string(std::localeconv()->decimal_point) != ",") {
    GTEST_SKIP() << "the locale " << loc->name() << " does not use ',' as decimal point";
  }
  char printed[32];
  std::snprintf(printed, sizeof printed, "%.1f", 0.5);
  ASSERT_STREQ(printed, "0,5") << "the C locale is really active";

  test::TempDir dir;
  const Model m = awkward_model();
  const std::string path = dir.file("m.json");
  save_model(m, path);
  const std::string text = read_text(path);
  EXPECT_EQ(text.find("0,1"), std::string::npos) << "a comma decimal separator leaked into the file";
  EXPECT_NE(text.find("0.1"), std::string::npos);
  EXPECT_NE(text.find("0.3333333333333333"), std::string::npos);
  // Reading under the comma locale gives the same bits.
  expect_models_identical(m, load_model(path));
  // And the text equals what the classic locale writes.
  std::locale::global(std::locale::classic());
  std::setlocale(LC_ALL, "C");
  EXPECT_EQ(text, model_to_json(m));
}

}  // namespace
}  // namespace cvxnn
