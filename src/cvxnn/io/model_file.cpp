#include "cvxnn/io/model_file.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fmt/format.h>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"

namespace cvxnn {

using nlohmann::json;

Matrix Model::predict(MatrixView raw_features) const {
  return preprocessing.inverse_transform_targets(network.predict(preprocessing.transform_features(raw_features)));
}

LabelEncoding Model::labels() const {
  if (!classifier()) throw InvalidInput("the model is a regression model (loss " + loss + "); it has no classes");
  LabelEncoding encoding;
  encoding.loss = loss_kind();
  encoding.classes = classes;
  return encoding;
}

std::string Model::class_label(Index k) const {
  if (!class_names.empty()) return class_names.at(static_cast<std::size_t>(k));
  return fmt::format("{}", classes(k));
}

Matrix Model::predict_labels(MatrixView raw_features) const { return labels().labels_of(predict(raw_features)); }

Matrix Model::predict_proba(MatrixView raw_features) const { return labels().probabilities(predict(raw_features)); }

namespace {

constexpr const char* kFormatName = "cvxnn-model";

json matrix_to_json(const Matrix& M) {
  json rows = json::array();
  for (Index i = 0; i < M.rows(); ++i) {
    json row = json::array();
    for (Index j = 0; j < M.cols(); ++j) row.push_back(M(i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

// NumPy's dtype of an array of these strings: "<U" and the longest length in code points.
std::string numpy_unicode_dtype(const std::vector<std::string>& texts) {
  std::size_t longest = 1;
  for (const std::string& text : texts) {
    const auto code_points = static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
    longest = std::max(longest, code_points);
  }
  return "<U" + std::to_string(longest);
}

bool numpy_unicode_dtype(const std::string& dtype) {
  const std::size_t kind = !dtype.empty() && std::string("<>|=").find(dtype[0]) != std::string::npos ? 1 : 0;
  return dtype.size() > kind && dtype[kind] == 'U';
}

json vector_to_json(const Vector& v) {
  json out = json::array();
  for (Index i = 0; i < v.size(); ++i) out.push_back(v(i));
  return out;
}

// Reading: every accessor names the file and the field it was looking for.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw FileError(path_ + ": field '" + field + "': " + what);
  }

  const json& field(const json& parent, const std::string& name, const std::string& where) const {
    const std::string full = where.empty() ? name : where + "." + name;
    if (!parent.is_object() || !parent.contains(name)) fail(full, "missing");
    return parent.at(name);
  }

  double number(const json& value, const std::string& name) const {
    if (!value.is_number()) fail(name, "expected a number, found " + std::string(value.type_name()));
    return value.get<double>();
  }

  std::string text(const json& value, const std::string& name) const {
    if (!value.is_string()) fail(name, "expected a string, found " + std::string(value.type_name()));
    return value.get<std::string>();
  }

  bool boolean(const json& value, const std::string& name) const {
    if (!value.is_boolean()) fail(name, "expected true or false, found " + std::string(value.type_name()));
    return value.get<bool>();
  }

  Index count(const json& value, const std::string& name) const {
    if (!value.is_number_integer() || value.get<long long>() < 0) fail(name, "expected a non-negative integer");
    return static_cast<Index>(value.get<long long>());
  }

  Vector vector(const json& value, const std::string& name) const {
    if (!value.is_array()) fail(name, "expected an array of numbers");
    Vector v(static_cast<Index>(value.size()));
    for (std::size_t i = 0; i < value.size(); ++i) v(static_cast<Index>(i)) = number(value[i], name + "[" + std::to_string(i) + "]");
    return v;
  }

  // A matrix is an array of rows; `cols` is used when there are no rows to tell it.
  Matrix matrix(const json& value, const std::string& name, Index cols) const {
    if (!value.is_array()) fail(name, "expected an array of rows");
    Matrix M(static_cast<Index>(value.size()), cols);
    for (std::size_t i = 0; i < value.size(); ++i) {
      const json& row = value[i];
      if (!row.is_array() || static_cast<Index>(row.size()) != cols) {
        fail(name, "row " + std::to_string(i) + " should hold " + std::to_string(cols) + " numbers");
      }
      for (std::size_t j = 0; j < row.size(); ++j) {
        M(static_cast<Index>(i), static_cast<Index>(j)) = number(row[j], name + "[" + std::to_string(i) + "]");
      }
    }
    return M;
  }

  std::vector<std::string> strings(const json& value, const std::string& name) const {
    if (!value.is_array()) fail(name, "expected an array of strings");
    std::vector<std::string> out;
    for (const json& item : value) out.push_back(text(item, name));
    return out;
  }

  // Turns a library exception about a value into a file error naming the field.
  template <typename F>
  auto convert(const std::string& name, F&& f) const {
    try {
      return f();
    } catch (const InvalidInput& e) {
      fail(name, e.what());
    }
  }

 private:
  std::string path_;
};

}  // namespace

std::string model_to_json(const Model& model) {
  json j;
  j["format"] = kFormatName;
  j["format_version"] = Model::kFormatVersion;
  j["formulation"] = to_string(model.formulation);
  j["loss"] = model.loss;
  j["penalty"] = model.penalty;
  j["beta"] = model.beta;
  j["features"] = model.feature_names;
  j["targets"] = model.target_names;
  if (model.classifier()) j["classes"] = vector_to_json(model.classes);
  if (!model.class_names.empty()) {
    j["class_labels"] = {{"dtype", numpy_unicode_dtype(model.class_names)}, {"values", model.class_names}};
  }
  const Preprocessing& pre = model.preprocessing;
  j["preprocessing"] = {{"center", vector_to_json(pre.center)},
                        {"scale", vector_to_json(pre.scale)},
                        {"bias", pre.bias},
                        {"target_center", vector_to_json(pre.target_center)},
                        {"target_scale", vector_to_json(pre.target_scale)}};
  const TwoLayerNetwork& net = model.network;
  j["network"] = {{"width", net.width()},
                  {"input_dim", net.input_dim()},
                  {"outputs", net.output_dim()},
                  {"activation", net.gated() ? "gated_relu" : "relu"},
                  {"W1", matrix_to_json(net.W1)},
                  {"W2", matrix_to_json(net.W2)}};
  if (net.gated()) j["network"]["gates"] = matrix_to_json(net.gates);
  j["patterns"] = {{"source", to_string(model.pattern_source)},
                   {"count", model.pattern_gates.rows()},
                   {"seed", model.pattern_seed},
                   {"complete", model.patterns_complete},
                   {"gates", matrix_to_json(model.pattern_gates)}};
  if (model.pattern_signs.size() > 0) j["patterns"]["signs"] = matrix_to_json(model.pattern_signs);
  const Certificate& c = model.certificate;
  j["certificate"] = {{"primal", c.primal},
                      {"dual", c.dual},
                      {"gap", c.gap},
                      {"relative_gap", c.relative_gap},
                      {"scope", to_string(c.scope)},
                      {"constraint_violation", c.constraint_violation}};
  if (model.dual_direction.size() > 0) j["certificate"]["dual_direction"] = matrix_to_json(model.dual_direction);
  const TrainingSummary& t = model.training;
  j["training"] = {{"method", t.method},         {"samples", t.samples},       {"input_features", t.input_features},
                   {"outputs", t.outputs},       {"status", t.status},         {"iterations", t.iterations},
                   {"seconds", t.seconds},       {"tol", t.tol}};
  // dump() writes doubles in their shortest round-trip form, independent of the C locale.
  return j.dump(1) + "\n";
}

Model model_from_json(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw FileError(path + ": not a valid JSON file (" + std::string(e.what()) + ")");
  }
  const Reader r(path);
  if (!j.is_object() || !j.contains("format") || j["format"] != kFormatName) {
    throw FileError(path + ": not a cvxnn model file (expected \"format\": \"" + kFormatName + "\")");
  }
  const json& version = r.field(j, "format_version", "");
  if (!version.is_number_integer() || version.get<int>() != Model::kFormatVersion) {
    throw FileError(path + ": unsupported model format version " + version.dump() + " (this cvxnn reads version " +
                    std::to_string(Model::kFormatVersion) + ")");
  }

  Model m;
  m.formulation = r.convert("formulation", [&] { return formulation_from_string(r.text(r.field(j, "formulation", ""), "formulation")); });
  m.loss = r.text(r.field(j, "loss", ""), "loss");
  const LossKind loss = r.convert("loss", [&] { return loss_kind_from_string(m.loss); });
  m.loss = to_string(loss);
  if (j.contains("penalty")) {
    m.penalty = r.text(j["penalty"], "penalty");
    m.penalty = to_string(r.convert("penalty", [&] { return penalty_kind_from_string(m.penalty); }));
  }
  m.beta = r.number(r.field(j, "beta", ""), "beta");
  if (!(m.beta > 0.0)) r.fail("beta", "must be positive");
  m.feature_names = r.strings(r.field(j, "features", ""), "features");
  m.target_names = r.strings(r.field(j, "targets", ""), "targets");

  const json& pre = r.field(j, "preprocessing", "");
  Preprocessing& p = m.preprocessing;
  p.center = r.vector(r.field(pre, "center", "preprocessing"), "preprocessing.center");
  p.scale = r.vector(r.field(pre, "scale", "preprocessing"), "preprocessing.scale");
  p.bias = r.boolean(r.field(pre, "bias", "preprocessing"), "preprocessing.bias");
  p.target_center = r.vector(r.field(pre, "target_center", "preprocessing"), "preprocessing.target_center");
  p.target_scale = r.vector(r.field(pre, "target_scale", "preprocessing"), "preprocessing.target_scale");
  const auto d_in = static_cast<Index>(m.feature_names.size());
  auto c = static_cast<Index>(m.target_names.size());
  if (loss != LossKind::squared) {  // a classifier: one label column, the classes, a score per output
    m.classes = r.vector(r.field(j, "classes", ""), "classes");
    if (m.target_names.size() != 1) r.fail("targets", "a classifier has one label column");
    if (m.classes.size() < 2 || (loss == LossKind::logistic && m.classes.size() != 2)) {
      r.fail("classes", "expected " + std::string(loss == LossKind::logistic ? "2" : "at least 2") + " classes for the " +
                            m.loss + " loss");
    }
    for (Index i = 1; i < m.classes.size(); ++i) {
      if (!(m.classes(i) > m.classes(i - 1))) r.fail("classes", "must be increasing");
    }
    c = loss == LossKind::logistic ? 1 : m.classes.size();
    // Text labels: a unicode dtype, or Python objects that are all strings (a classifier fitted
    // on pandas' string columns). Other labels in this field are the Python classifier's own.
    if (j.contains("class_labels")) {
      const json& labels = j["class_labels"];
      if (!labels.is_object()) r.fail("class_labels", "expected {\"dtype\": ..., \"values\": [...]}");
      const std::string dtype = r.text(r.field(labels, "dtype", "class_labels"), "class_labels.dtype");
      const auto all_strings = [&labels] {
        const auto values = labels.find("values");
        return values != labels.end() && values->is_array() && !values->empty() &&
               std::all_of(values->begin(), values->end(), [](const json& v) { return v.is_string(); });
      };
      if (numpy_unicode_dtype(dtype) || (dtype == "object" && all_strings())) {
        m.class_names = r.strings(r.field(labels, "values", "class_labels"), "class_labels.values");
        if (static_cast<Index>(m.class_names.size()) != m.classes.size()) {
          r.fail("class_labels", fmt::format("holds {} labels for {} classes", m.class_names.size(), m.classes.size()));
        }
        for (Index k = 0; k < m.classes.size(); ++k) {
          if (m.classes(k) != double(k)) r.fail("classes", "text labels need the classes 0, 1, ..., k-1 (their codes)");
          const auto i = static_cast<std::size_t>(k);
          if (i > 0 && !(m.class_names[i - 1] < m.class_names[i])) r.fail("class_labels", "must be distinct and sorted");
        }
      }
    }
  } else if (j.contains("classes") || j.contains("class_labels")) {
    r.fail(j.contains("classes") ? "classes" : "class_labels", "a squared-loss model has no classes");
  }
  if (p.center.size() != d_in || p.scale.size() != d_in) {
    r.fail("preprocessing", "center and scale need one entry per feature (" + std::to_string(d_in) + ")");
  }
  if (p.target_center.size() != c || p.target_scale.size() != c) {
    r.fail("preprocessing", "target_center and target_scale need one entry per target (" + std::to_string(c) + ")");
  }
  if ((p.scale.array() <= 0.0).any() || (p.target_scale.array() <= 0.0).any()) r.fail("preprocessing", "scales must be positive");

  const json& net = r.field(j, "network", "");
  const Index d = p.model_dim();
  const Index width = r.count(r.field(net, "width", "network"), "network.width");
  if (r.count(r.field(net, "input_dim", "network"), "network.input_dim") != d) {
    r.fail("network.input_dim", "does not match the preprocessing (" + std::to_string(d) + " columns)");
  }
  m.network.W1 = r.matrix(r.field(net, "W1", "network"), "network.W1", d);
  if (m.network.W1.rows() != width) r.fail("network.W1", "expected " + std::to_string(width) + " rows");
  m.network.W2 = r.matrix(r.field(net, "W2", "network"), "network.W2", width);
  if (m.network.W2.rows() != c) r.fail("network.W2", "expected one row per target (" + std::to_string(c) + ")");
  if (r.count(r.field(net, "outputs", "network"), "network.outputs") != c) {
    r.fail("network.outputs", "does not match the number of targets (" + std::to_string(c) + ")");
  }
  const std::string activation = r.text(r.field(net, "activation", "network"), "network.activation");
  if (activation == "gated_relu") {
    m.network.gates = r.matrix(r.field(net, "gates", "network"), "network.gates", d);
  } else if (activation != "relu") {
    r.fail("network.activation", "expected relu or gated_relu, found '" + activation + "'");
  }
  r.convert("network", [&] { m.network.check(); return 0; });

  const json& pat = r.field(j, "patterns", "");
  m.pattern_source = r.convert("patterns.source", [&] { return pattern_source_from_string(r.text(r.field(pat, "source", "patterns"), "patterns.source")); });
  const json& seed = r.field(pat, "seed", "patterns");
  if (!seed.is_number_unsigned()) r.fail("patterns.seed", "expected a non-negative integer");
  m.pattern_seed = seed.get<std::uint64_t>();
  m.patterns_complete = r.boolean(r.field(pat, "complete", "patterns"), "patterns.complete");
  m.pattern_gates = r.matrix(r.field(pat, "gates", "patterns"), "patterns.gates", d);
  if (r.count(r.field(pat, "count", "patterns"), "patterns.count") != m.pattern_gates.rows()) {
    r.fail("patterns.count", "does not match the number of gates (" + std::to_string(m.pattern_gates.rows()) + ")");
  }
  if (pat.contains("signs")) m.pattern_signs = r.matrix(pat["signs"], "patterns.signs", c);
  if (m.pattern_signs.size() > 0 && m.pattern_signs.rows() != m.pattern_gates.rows()) {
    r.fail("patterns.signs", "expected one row per gate");
  }

  const json& cert = r.field(j, "certificate", "");
  Certificate& ce = m.certificate;
  ce.primal = r.number(r.field(cert, "primal", "certificate"), "certificate.primal");
  ce.dual = r.number(r.field(cert, "dual", "certificate"), "certificate.dual");
  ce.gap = r.number(r.field(cert, "gap", "certificate"), "certificate.gap");
  ce.relative_gap = r.number(r.field(cert, "relative_gap", "certificate"), "certificate.relative_gap");
  ce.scope = r.convert("certificate.scope", [&] { return certificate_scope_from_string(r.text(r.field(cert, "scope", "certificate"), "certificate.scope")); });
  ce.constraint_violation = r.number(r.field(cert, "constraint_violation", "certificate"), "certificate.constraint_violation");
  if (cert.contains("dual_direction")) {
    m.dual_direction = r.matrix(cert["dual_direction"], "certificate.dual_direction", c);
  }

  const json& tr = r.field(j, "training", "");
  TrainingSummary& t = m.training;
  t.method = r.text(r.field(tr, "method", "training"), "training.method");
  t.samples = r.count(r.field(tr, "samples", "training"), "training.samples");
  t.input_features = r.count(r.field(tr, "input_features", "training"), "training.input_features");
  t.outputs = r.count(r.field(tr, "outputs", "training"), "training.outputs");
  t.status = r.text(r.field(tr, "status", "training"), "training.status");
  t.iterations = static_cast<int>(r.count(r.field(tr, "iterations", "training"), "training.iterations"));
  t.seconds = r.number(r.field(tr, "seconds", "training"), "training.seconds");
  t.tol = r.number(r.field(tr, "tol", "training"), "training.tol");
  return m;
}

void save_model(const Model& model, const std::string& path) {
  model.network.check();
  write_text_file_atomically(path, model_to_json(model));
}

Model load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path + ": cannot open the model file");
  std::ostringstream text;
  text << in.rdbuf();
  return model_from_json(text.str(), path);
}

}  // namespace cvxnn
