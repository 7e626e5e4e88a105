#include "metrics/bootstrap.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>

namespace electra::metrics {
namespace {

void check_counts(const Counts& counts, size_t units, const char* what) {
  if (counts.size() != units)
    throw std::invalid_argument(fmt::format("{}: {} counts for {} units", what, counts.size(), units));
}

class LabelMetrics : public ResampledMetrics {
 public:
  LabelMetrics(const std::vector<std::string>& gold, const std::vector<std::string>& pred, std::vector<std::string> names)
      : names_(std::move(names)) {
    if (gold.size() != pred.size() || gold.empty())
      throw std::invalid_argument(fmt::format("label metrics: {} gold labels and {} predictions", gold.size(), pred.size()));
    for (const auto& name : names_)
      if (name != "accuracy" && name != "macro_f1" && name != "mcc")
        throw std::invalid_argument(fmt::format("label metrics: unknown metric '{}' (known: accuracy, macro_f1, mcc)", name));
    std::map<std::string, uint32_t> index;
    for (const auto* side : {&gold, &pred})
      for (const auto& label : *side) index.emplace(label, 0);
    uint32_t k = 0;
    for (auto& [label, i] : index) i = k++;
    classes_ = k;
    for (size_t i = 0; i < gold.size(); ++i) cell_.push_back(index[gold[i]] * classes_ + index[pred[i]]);
  }
  size_t units() const override { return cell_.size(); }
  const std::vector<std::string>& names() const override { return names_; }
  std::vector<double> score(const Counts& counts) const override {
    check_counts(counts, cell_.size(), "label metrics");
    std::vector<double> confusion(static_cast<size_t>(classes_) * classes_, 0.0);
    for (size_t i = 0; i < cell_.size(); ++i) confusion[cell_[i]] += counts[i];
    std::vector<double> gold_sum(classes_, 0.0), pred_sum(classes_, 0.0);
    double total = 0, correct = 0;
    for (uint32_t g = 0; g < classes_; ++g)
      for (uint32_t p = 0; p < classes_; ++p) {
        const double c = confusion[g * classes_ + p];
        gold_sum[g] += c;
        pred_sum[p] += c;
        total += c;
        if (g == p) correct += c;
      }
    std::vector<double> out;
    for (const auto& name : names_) {
      if (name == "accuracy") {
        out.push_back(100.0 * correct / total);
      } else if (name == "macro_f1") {
        double sum = 0;
        int present = 0;
        for (uint32_t c = 0; c < classes_; ++c) {
          const double denominator = gold_sum[c] + pred_sum[c];  // 2 tp + fp + fn
          if (denominator == 0) continue;  // absent from gold and prediction in this resample
          ++present;
          sum += 2.0 * confusion[c * classes_ + c] / denominator;
        }
        out.push_back(100.0 * sum / present);
      } else {
        double tp = 0, pp = 0, tt = 0;
        for (uint32_t c = 0; c < classes_; ++c) {
          tp += gold_sum[c] * pred_sum[c];
          pp += pred_sum[c] * pred_sum[c];
          tt += gold_sum[c] * gold_sum[c];
        }
        const double cov_ytyp = correct * total - tp, cov_ypyp = total * total - pp, cov_ytyt = total * total - tt;
        out.push_back(cov_ypyp * cov_ytyt == 0 ? 0.0 : 100.0 * cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp));
      }
    }
    return out;
  }

 private:
  std::vector<std::string> names_;
  uint32_t classes_ = 0;
  std::vector<uint32_t> cell_;  // gold class * classes + predicted class, per unit
};

double weighted_pearson(const std::vector<double>& x, const std::vector<double>& y, const Counts& w) {
  double total = 0, sx = 0, sy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    total += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
  }
  const double mx = sx / total, my = sy / total;
  double sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (w[i] == 0) continue;
    const double dx = x[i] - mx, dy = y[i] - my;
    sxx += w[i] * dx * dx;
    syy += w[i] * dy * dy;
    sxy += w[i] * dx * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();  // as metrics::pearson
  return 100.0 * std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

class CorrelationMetrics : public ResampledMetrics {
 public:
  CorrelationMetrics(std::vector<double> gold, std::vector<double> pred, std::vector<std::string> names)
      : gold_(std::move(gold)), pred_(std::move(pred)), names_(std::move(names)) {
    if (gold_.size() != pred_.size() || gold_.size() < 2)
      throw std::invalid_argument(fmt::format("correlation metrics: {} gold scores and {} predictions", gold_.size(), pred_.size()));
    for (const auto& name : names_)
      if (name != "pearson" && name != "spearman")
        throw std::invalid_argument(fmt::format("correlation metrics: unknown metric '{}' (known: pearson, spearman)", name));
    gold_order_ = order(gold_);
    pred_order_ = order(pred_);
  }
  size_t units() const override { return gold_.size(); }
  const std::vector<std::string>& names() const override { return names_; }
  std::vector<double> score(const Counts& counts) const override {
    check_counts(counts, gold_.size(), "correlation metrics");
    std::vector<double> out;
    for (const auto& name : names_) {
      if (name == "pearson") {
        out.push_back(weighted_pearson(gold_, pred_, counts));
      } else {
        out.push_back(weighted_pearson(ranks(gold_, gold_order_, counts), ranks(pred_, pred_order_, counts), counts));
      }
    }
    return out;
  }

 private:
  static std::vector<size_t> order(const std::vector<double>& v) {
    std::vector<size_t> o(v.size());
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    return o;
  }
  // Average ranks of the resampled values: a unit drawn c times is c tied copies.
  static std::vector<double> ranks(const std::vector<double>& v, const std::vector<size_t>& order, const Counts& w) {
    std::vector<double> r(v.size(), 0.0);
    double below = 0;
    for (size_t start = 0; start < order.size();) {
      size_t end = start;
      double group = 0;
      while (end < order.size() && v[order[end]] == v[order[start]]) group += w[order[end++]];
      const double rank = below + (group + 1) / 2;
      for (size_t k = start; k < end; ++k) r[order[k]] = rank;
      below += group;
      start = end;
    }
    return r;
  }
  std::vector<double> gold_, pred_;
  std::vector<std::string> names_;
  std::vector<size_t> gold_order_, pred_order_;
};

// Metrics that are ratios of sums of per-unit numbers.
class SumMetrics : public ResampledMetrics {
 public:
  enum class Kind { entity, qa };
  SumMetrics(Kind kind, std::vector<std::string> names, std::vector<std::array<double, 3>> per_unit)
      : kind_(kind), names_(std::move(names)), per_unit_(std::move(per_unit)) {}
  size_t units() const override { return per_unit_.size(); }
  const std::vector<std::string>& names() const override { return names_; }
  std::vector<double> score(const Counts& counts) const override {
    check_counts(counts, per_unit_.size(), "resampled metrics");
    double s[3] = {0, 0, 0}, total = 0;
    for (size_t i = 0; i < per_unit_.size(); ++i) {
      if (counts[i] == 0) continue;
      total += counts[i];
      for (int k = 0; k < 3; ++k) s[k] += counts[i] * per_unit_[i][k];
    }
    if (kind_ == Kind::qa) return {100.0 * s[0] / total, 100.0 * s[1] / total};
    // entity: s = {correct, predicted, gold}
    const double precision = s[1] == 0 ? 0.0 : s[0] / s[1];
    const double recall = s[2] == 0 ? 0.0 : s[0] / s[2];
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    return {100.0 * precision, 100.0 * recall, 100.0 * f1};
  }

 private:
  Kind kind_;
  std::vector<std::string> names_;
  std::vector<std::array<double, 3>> per_unit_;
};

}  // namespace

std::unique_ptr<ResampledMetrics> label_metrics(const std::vector<std::string>& gold, const std::vector<std::string>& pred,
                                                const std::vector<std::string>& names) {
  return std::make_unique<LabelMetrics>(gold, pred, names);
}

std::unique_ptr<ResampledMetrics> correlation_metrics(const std::vector<double>& gold, const std::vector<double>& pred,
                                                      const std::vector<std::string>& names) {
  return std::make_unique<CorrelationMetrics>(gold, pred, names);
}

std::unique_ptr<ResampledMetrics> entity_metrics(const std::vector<std::vector<std::string>>& gold,
                                                 const std::vector<std::vector<std::string>>& pred, TagStyle style) {
  if (gold.size() != pred.size() || gold.empty())
    throw std::invalid_argument(fmt::format("entity metrics: {} gold sentences but {} predictions", gold.size(), pred.size()));
  std::vector<std::array<double, 3>> per_unit;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i].size() != pred[i].size())
      throw std::invalid_argument(fmt::format("entity metrics: sentence {} has {} gold tags but {} predicted", i + 1,
                                              gold[i].size(), pred[i].size()));
    // As seqeval sees a sentence: after the `O` that ends the previous one.
    auto chunks = [&](const std::vector<std::string>& tags) {
      std::vector<std::string> padded = {"O"};
      padded.insert(padded.end(), tags.begin(), tags.end());
      auto e = get_entities(padded, style);
      std::sort(e.begin(), e.end());
      return e;
    };
    const auto g = chunks(gold[i]), p = chunks(pred[i]);
    std::vector<Entity> common;
    std::set_intersection(g.begin(), g.end(), p.begin(), p.end(), std::back_inserter(common));
    per_unit.push_back({static_cast<double>(common.size()), static_cast<double>(p.size()), static_cast<double>(g.size())});
  }
  return std::make_unique<SumMetrics>(SumMetrics::Kind::entity, std::vector<std::string>{"precision", "recall", "f1"},
                                      std::move(per_unit));
}

std::unique_ptr<ResampledMetrics> qa_metrics(const std::vector<std::vector<std::string>>& gold_answers,
                                             const std::vector<std::optional<std::string>>& predictions, QaRules rules) {
  if (gold_answers.size() != predictions.size() || gold_answers.empty())
    throw std::invalid_argument(
        fmt::format("qa metrics: {} questions but {} predictions", gold_answers.size(), predictions.size()));
  std::vector<std::array<double, 3>> per_unit;
  for (size_t i = 0; i < gold_answers.size(); ++i) {
    double em = 0, f1 = 0;
    if (predictions[i])
      for (const auto& g : gold_answers[i]) {
        em = std::max(em, answer_exact_match(*predictions[i], g, rules));
        f1 = std::max(f1, answer_f1(*predictions[i], g, rules));
      }
    per_unit.push_back({em, f1, 0.0});
  }
  return std::make_unique<SumMetrics>(SumMetrics::Kind::qa, std::vector<std::string>{"exact_match", "f1"},
                                      std::move(per_unit));
}

Resampler::Resampler(size_t units, uint64_t seed) : n_(units) {
  if (units == 0) throw std::invalid_argument("bootstrap: nothing to resample (0 units)");
  uint64_t x = seed;
  for (auto& s : s_) {  // splitmix64
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    s = z ^ (z >> 31);
  }
}

uint64_t Resampler::next() {
  const auto rotl = [](uint64_t v, int k) { return (v << k) | (v >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void Resampler::draw(Counts& counts) {
  counts.assign(n_, 0);
  const uint64_t n = n_;
  const uint64_t threshold = (0 - n) % n;
  for (size_t i = 0; i < n_; ++i) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    while (static_cast<uint64_t>(m) < threshold) m = static_cast<unsigned __int128>(next()) * n;
    ++counts[static_cast<size_t>(m >> 64)];
  }
}

Counts counts_of(const std::vector<int64_t>& indices, size_t units) {
  Counts counts(units, 0);
  for (const auto i : indices) {
    if (i < 0 || static_cast<size_t>(i) >= units)
      throw std::invalid_argument(fmt::format("bootstrap: index {} outside [0, {})", i, units));
    ++counts[static_cast<size_t>(i)];
  }
  return counts;
}

double median(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("median of no values");
  if (std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); }))
    return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) throw std::invalid_argument("percentile of no values");
  // numpy.percentile: NaN when any value is NaN (a resample whose predictions or gold scores are all equal).
  if (std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); }))
    return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double h = (q / 100.0) * static_cast<double>(values.size() - 1);
  const double below = std::floor(h);
  const size_t lo = static_cast<size_t>(below), hi = std::min(lo + 1, values.size() - 1);
  const double t = h - below, a = values[lo], b = values[hi], diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;  // numpy's _lerp
}

Interval percentile_interval(const std::vector<double>& replicates, double confidence) {
  if (!(confidence > 0 && confidence < 1))
    throw std::invalid_argument(fmt::format("bootstrap: confidence {} is not in (0, 1)", confidence));
  const double alpha = (1 - confidence) / 2;
  return {percentile(replicates, alpha * 100), percentile(replicates, (1 - alpha) * 100)};
}

std::vector<std::vector<std::vector<double>>> bootstrap_replicates(const std::vector<const ResampledMetrics*>& systems,
                                                                   const BootstrapOptions& options) {
  if (options.resamples <= 0)
    throw std::invalid_argument(fmt::format("--bootstrap {}: the number of resamples must be positive", options.resamples));
  if (systems.empty()) return {};
  const size_t n = systems[0]->units();
  for (const auto* s : systems)
    if (s->units() != n)
      throw std::invalid_argument(fmt::format("paired bootstrap: {} and {} test units", n, s->units()));
  std::vector<std::vector<std::vector<double>>> out(systems.size());
  for (size_t s = 0; s < systems.size(); ++s)
    out[s].assign(systems[s]->names().size(), std::vector<double>(static_cast<size_t>(options.resamples)));
  Resampler resampler(n, options.seed);
  Counts counts;
  for (int64_t b = 0; b < options.resamples; ++b) {
    resampler.draw(counts);
    for (size_t s = 0; s < systems.size(); ++s) {
      const auto values = systems[s]->score(counts);
      for (size_t m = 0; m < values.size(); ++m) out[s][m][static_cast<size_t>(b)] = values[m];
    }
  }
  return out;
}

std::vector<MetricInterval> bootstrap_intervals(const ResampledMetrics& metrics, const BootstrapOptions& options) {
  const auto replicates = bootstrap_replicates({&metrics}, options)[0];
  const auto values = metrics.score(Counts(metrics.units(), 1));
  std::vector<MetricInterval> out;
  for (size_t m = 0; m < values.size(); ++m)
    out.push_back({metrics.names()[m], values[m], percentile_interval(replicates[m], options.confidence)});
  return out;
}

}  // namespace electra::metrics
