// Bootstrap confidence intervals of the suite's metrics over test units (examples; NER sentences; KorQuAD
// questions). A resample is a vector of counts, how often each unit was drawn; every metric is scored from the
// counts directly (confusion matrices, weighted ranks, entity and answer sums), so no resampled copy of the data
// is ever built. Percentile intervals use numpy's "linear" percentile, as scipy.stats.bootstrap(method="percentile").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/entity.h"
#include "metrics/qa.h"

namespace electra::metrics {

using Counts = std::vector<uint32_t>;  // one per unit; they sum to the number of units

// Metrics (x100) of n units scored with unit i counted counts[i] times; all ones gives the plain metrics.
class ResampledMetrics {
 public:
  virtual ~ResampledMetrics() = default;
  virtual size_t units() const = 0;
  virtual const std::vector<std::string>& names() const = 0;
  // One value per name. `counts.size()` must be units() (std::invalid_argument otherwise).
  virtual std::vector<double> score(const Counts& counts) const = 0;
};

// `names`: any of accuracy, macro_f1, mcc (sklearn semantics, as metrics/classification.h).
std::unique_ptr<ResampledMetrics> label_metrics(const std::vector<std::string>& gold,
                                                const std::vector<std::string>& pred,
                                                const std::vector<std::string>& names);
// `names`: any of pearson, spearman (scipy semantics, ties get average ranks; NaN for a constant side).
std::unique_ptr<ResampledMetrics> correlation_metrics(const std::vector<double>& gold, const std::vector<double>& pred,
                                                      const std::vector<std::string>& names);
// precision, recall, f1 (seqeval micro average); one unit per sentence (entities never cross sentences).
std::unique_ptr<ResampledMetrics> entity_metrics(const std::vector<std::vector<std::string>>& gold,
                                                 const std::vector<std::vector<std::string>>& pred, TagStyle style);
// exact_match, f1 (official script rules); one unit per question; a missing prediction scores 0.
std::unique_ptr<ResampledMetrics> qa_metrics(const std::vector<std::vector<std::string>>& gold_answers,
                                             const std::vector<std::optional<std::string>>& predictions,
                                             QaRules rules);

// Seeded, platform-independent draws of n indices uniform in [0, n) (xoshiro256** with Lemire's bounded draw).
class Resampler {
 public:
  Resampler(size_t units, uint64_t seed);
  void draw(Counts& counts);  // counts of the next resample

 private:
  uint64_t next();
  size_t n_;
  uint64_t s_[4];
};

// Counts of explicit indices (each in [0, units), else std::invalid_argument).
Counts counts_of(const std::vector<int64_t>& indices, size_t units);

// numpy.median: the middle value, or the mean of the two middle ones; NaN when a value is NaN (an undefined seed is
// neither dropped nor counted as a number). Throws std::invalid_argument for no values.
double median(std::vector<double> values);
// numpy.percentile(values, q, method="linear"), q in [0, 100]; `values` need not be sorted; NaN if one is NaN.
double percentile(std::vector<double> values, double q);

struct Interval {
  double low = 0, high = 0;
};
// The (1 - confidence) / 2 and (1 + confidence) / 2 percentiles.
Interval percentile_interval(const std::vector<double>& replicates, double confidence);

struct BootstrapOptions {
  int64_t resamples = 1000;  // > 0
  uint64_t seed = 0;
  double confidence = 0.95;  // in (0, 1)
};

// Replicates of several systems scored on the same resamples (paired): [system][metric][resample].
// Every system must have the same number of units (std::invalid_argument otherwise).
std::vector<std::vector<std::vector<double>>> bootstrap_replicates(const std::vector<const ResampledMetrics*>& systems,
                                                                   const BootstrapOptions& options);

struct MetricInterval {
  std::string name;
  double value = 0;  // on the test set as it is
  Interval interval;
};
// The percentile interval of every metric of one system.
std::vector<MetricInterval> bootstrap_intervals(const ResampledMetrics& metrics, const BootstrapOptions& options);

}  // namespace electra::metrics
