#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "metrics/bootstrap.h"
#include "metrics/classification.h"
#include "metrics/correlation.h"
#include "metrics/entity.h"
#include "metrics/metric_names.h"
#include "metrics/qa.h"
#include "tests/catch.h"
#include "tests/support.h"

using namespace electra::metrics;
using Strings = std::vector<std::string>;

namespace {

std::string show(const std::vector<Entity>& entities) {
  std::string out;
  for (const auto& e : entities) out += e.type + " " + std::to_string(e.begin) + "-" + std::to_string(e.end) + ";";
  return out;
}

}  // namespace

TEST_CASE("accuracy counts exact label matches", "[metrics]") {
  CHECK(accuracy({"0", "1", "1", "0"}, {"0", "1", "0", "0"}) == Approx(75.0));
  CHECK_THROWS_AS(accuracy({"0"}, {"0", "1"}), std::invalid_argument);
  CHECK_THROWS_AS(accuracy({}, {}), std::invalid_argument);
}

TEST_CASE("macro f1 follows sklearn with a class absent from gold", "[metrics]") {
  // a: P 1, R 1/2, F 2/3; b: P 1/2, R 1/2, F 1/2; c (predicted only): F 0. Mean over 3 classes.
  CHECK(macro_f1({"a", "a", "b", "b"}, {"a", "b", "b", "c"}) == Approx(100.0 * (2.0 / 3 + 0.5 + 0) / 3));
  CHECK(macro_f1({"none", "hate"}, {"none", "hate"}) == Approx(100.0));
  // A class that is neither in gold nor in predictions does not count (only 2 classes here).
  CHECK(macro_f1({"x", "y", "y"}, {"x", "x", "y"}) == Approx(100.0 * (2.0 / 3 + 2.0 / 3) / 2));
}

TEST_CASE("matthews correlation matches hand-worked cases", "[metrics]") {
  // TP 2, TN 2, FP 1, FN 1: (2*2 - 1*1) / sqrt(3*3*3*3) = 1/3.
  CHECK(matthews_corrcoef({"1", "1", "1", "0", "0", "0"}, {"1", "1", "0", "0", "0", "1"}) == Approx(100.0 / 3));
  SECTION("one predicted class gives a zero denominator") {
    CHECK(matthews_corrcoef({"1", "0", "1", "0"}, {"1", "1", "1", "1"}) == 0.0);
  }
  SECTION("a predicted class missing from gold (multiclass form)") {
    // t = [2, 2, 0], p = [1, 2, 1], 3 correct of 4: (12 - 6) / sqrt((16 - 8) * (16 - 6)).
    CHECK(matthews_corrcoef({"a", "b", "a", "b"}, {"a", "b", "c", "b"}) == Approx(100.0 * 6 / std::sqrt(80.0)));
  }
  CHECK(matthews_corrcoef({"0", "1"}, {"1", "0"}) == Approx(-100.0));
}

TEST_CASE("pearson and spearman with ties", "[metrics]") {
  CHECK(pearson({1, 2, 3, 4}, {2, 4, 6, 8}) == Approx(100.0));
  CHECK(pearson({1, 2, 3}, {3, 2, 1}) == Approx(-100.0));
  CHECK(average_ranks({10, 20, 20, 30, 20}) == std::vector<double>{1, 3, 3, 5, 3});
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: cov 4.5, var 4.5 and 5.
  CHECK(spearman({1, 2, 2, 3}, {1, 3, 2, 4}) == Approx(100.0 * 4.5 / std::sqrt(22.5)));
  CHECK(spearman({1, 2, 3, 4}, {10, 20, 30, 1000}) == Approx(100.0));
  CHECK_THROWS_AS(spearman({1}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(pearson({1, 2}, {1, 2, 3}), std::invalid_argument);
}

TEST_CASE("pearson and spearman of a constant side are undefined (NaN), as scipy", "[metrics]") {
  // scipy.stats.pearsonr / spearmanr return nan with a ConstantInputWarning; 0 would read as "no correlation".
  CHECK(std::isnan(pearson({1, 2, 3}, {5, 5, 5})));
  CHECK(std::isnan(pearson({4, 4, 4}, {1, 2, 3})));
  CHECK(std::isnan(spearman({1, 2, 3}, {5, 5, 5})));
  CHECK(std::isnan(spearman({2, 2}, {1, 2})));
  CHECK(undefined_metric_warning("spearman", "pred.txt") ==
        "spearman of pred.txt is undefined (NaN): the predictions or the gold scores are constant");
  // Resampled: the plain score, and a resample that draws only equal predictions.
  const auto corr = correlation_metrics({1, 2, 3, 4}, {1, 1, 1, 2}, {"pearson", "spearman"});
  CHECK_FALSE(std::isnan(corr->score(Counts(4, 1))[0]));
  const auto degenerate = corr->score(Counts{2, 1, 1, 0});
  CHECK(std::isnan(degenerate[0]));
  CHECK(std::isnan(degenerate[1]));
  const auto constant = correlation_metrics({1, 2, 3}, {7, 7, 7}, {"spearman"});
  CHECK(std::isnan(constant->score(Counts(3, 1))[0]));
  // numpy: a NaN among the values makes the median and the percentiles NaN; an undefined seed is not dropped.
  CHECK(median({3, 1, 2}) == 2.0);
  CHECK(median({4, 1, 2, 3}) == 2.5);
  CHECK(std::isnan(median({1, std::nan(""), 3})));
  CHECK(std::isnan(percentile({1, 2, std::nan("")}, 50)));
  const auto interval = percentile_interval({1, 2, 3, std::nan("")}, 0.95);
  CHECK(std::isnan(interval.low));
  CHECK(std::isnan(interval.high));
  CHECK_THROWS_AS(median({}), std::invalid_argument);
}

TEST_CASE("entity scores reproduce the seqeval README example", "[metrics]") {
  const std::vector<Strings> gold = {{"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
  const std::vector<Strings> pred = {{"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
  const auto s = entity_scores(gold, pred, TagStyle::prefix);
  CHECK(s.precision == Approx(50.0));
  CHECK(s.recall == Approx(50.0));
  CHECK(s.f1 == Approx(50.0));
  SECTION("the same in suffix style") {
    const std::vector<Strings> g = {{"O", "O", "O", "MISC-B", "MISC-I", "MISC-I", "O"}, {"PER-B", "PER-I", "O"}};
    const std::vector<Strings> p = {{"O", "O", "MISC-B", "MISC-I", "MISC-I", "MISC-I", "O"}, {"PER-B", "PER-I", "O"}};
    CHECK(entity_scores(g, p, TagStyle::suffix).f1 == Approx(50.0));
  }
  SECTION("chunking rules") {
    CHECK(show(get_entities({"PER-I", "PER-I", "O"}, TagStyle::suffix)) == "PER 0-1;");
    CHECK(show(get_entities({"PER-B", "LOC-I", "LOC-I"}, TagStyle::suffix)) == "PER 0-0;LOC 1-2;");
    CHECK(show(get_entities({"B-PER", "B-PER", "O", "I-LOC"}, TagStyle::prefix)) == "PER 0-0;PER 1-1;LOC 3-3;");
    CHECK(show(get_entities({"DAT-B", "DAT-I", "TIM-B"}, TagStyle::suffix)) == "DAT 0-1;TIM 2-2;");
  }
  SECTION("undefined scores are 0 and lengths must agree") {
    const auto none = entity_scores({{"O", "O"}}, {{"O", "O"}}, TagStyle::suffix);
    CHECK(none.f1 == 0.0);
    CHECK_THROWS_AS(entity_scores({{"O"}}, {{"O", "O"}}, TagStyle::suffix), std::invalid_argument);
  }
}

TEST_CASE("korquad scores ignore particles' punctuation but count characters", "[metrics]") {
  CHECK(normalize_answer(" 《난중일기》 ", QaRules::korquad) == "난중일기");
  CHECK(normalize_answer("(현재) \"호텔\"  주인", QaRules::korquad) == "현재 호텔 주인");
  CHECK(answer_exact_match("난중일기", "《난중일기》", QaRules::korquad) == 1.0);
  CHECK(answer_exact_match("1,446년.", "1446년", QaRules::korquad) == 1.0);
  // A trailing particle: 4 of 5 predicted characters are right, all 4 gold ones found.
  CHECK(answer_f1("세종대왕이", "세종대왕", QaRules::korquad) == Approx(2 * 0.8 * 1.0 / 1.8));
  CHECK(answer_exact_match("세종대왕이", "세종대왕", QaRules::korquad) == 0.0);
  // Spacing differs: not an exact match, but the same characters.
  CHECK(answer_exact_match("노량 해전", "노량해전", QaRules::korquad) == 0.0);
  CHECK(answer_f1("노량 해전", "노량해전", QaRules::korquad) == Approx(1.0));
  CHECK(answer_f1("한강", "서울", QaRules::korquad) == 0.0);
  CHECK(answer_exact_match("ABC", "abc", QaRules::korquad) == 1.0);
}

TEST_CASE("squad scores remove articles and count words", "[metrics]") {
  CHECK(normalize_answer("The  Normans!", QaRules::squad) == "normans");
  CHECK(normalize_answer("theory", QaRules::squad) == "theory");  // no article inside a word
  CHECK(answer_exact_match("the Normans", "Normans", QaRules::squad) == 1.0);
  // pred [in, 10th, century], gold [10th, and, 11th, centuries]: 1 common word.
  CHECK(answer_f1("in the 10th century", "10th and 11th centuries", QaRules::squad) == Approx(2.0 / 7));
  CHECK(answer_f1("a", "the", QaRules::squad) == 0.0);
}

TEST_CASE("qa scores take the best gold answer and 0 for a missing prediction", "[metrics]") {
  const std::vector<Strings> gold = {{"France", "in France"}, {"Denmark"}};
  const auto s = qa_scores(gold, {std::string("in France"), std::nullopt}, QaRules::squad);
  CHECK(s.exact_match == Approx(50.0));
  CHECK(s.f1 == Approx(50.0));
  CHECK_THROWS_AS(qa_scores(gold, {std::string("x")}, QaRules::squad), std::invalid_argument);
  CHECK_THROWS_AS(normalize_answer("\xff", QaRules::korquad), std::invalid_argument);
}

TEST_CASE("metric names are checked", "[metrics]") {
  CHECK_NOTHROW(check_metric_name("spearman"));
  CHECK_THROWS_AS(check_metric_name("auc"), std::invalid_argument);
}

namespace {

using Json = nlohmann::json;

// The fixture case's data in resampling form: labels, scores, entities (suffix tags) or answers (KorQuAD rules).
std::unique_ptr<ResampledMetrics> fixture_metrics(const Json& c) {
  const std::string kind = c["kind"];
  std::vector<std::string> names;
  for (const auto& [name, value] : c["metrics"].items()) names.push_back(name);
  if (kind == "labels") return label_metrics(c["gold"].get<Strings>(), c["pred"].get<Strings>(), names);
  if (kind == "scores")
    return correlation_metrics(c["gold"].get<std::vector<double>>(), c["pred"].get<std::vector<double>>(), names);
  if (kind == "entities")
    return entity_metrics(c["gold"].get<std::vector<Strings>>(), c["pred"].get<std::vector<Strings>>(), TagStyle::suffix);
  std::vector<std::optional<std::string>> pred;
  for (const auto& p : c["pred"]) pred.emplace_back(p.get<std::string>());
  return qa_metrics(c["gold"].get<std::vector<Strings>>(), pred, QaRules::korquad);
}

}  // namespace

TEST_CASE("bootstrap intervals agree with scipy.stats.bootstrap on the same resample indices", "[metrics][bootstrap]") {
  // tests/fixtures/bootstrap/make_scipy_fixture.py wrote the indices scipy drew and scipy's percentile intervals.
  const auto fixture = Json::parse(electra::read_file(std::filesystem::path(electra::test::fixtures_dir()) / "bootstrap" /
                                                      "scipy_intervals.json"));
  std::set<std::string> seen;
  for (const auto& c : fixture["cases"]) {
    const auto metrics = fixture_metrics(c);
    const auto& rows = c["indices"];
    REQUIRE(rows.size() == c["resamples"].get<size_t>());
    std::vector<std::vector<double>> replicates(metrics->names().size());
    for (const auto& row : rows) {
      const auto values = metrics->score(counts_of(row.get<std::vector<int64_t>>(), metrics->units()));
      for (size_t m = 0; m < values.size(); ++m) replicates[m].push_back(values[m]);
    }
    const auto plain = metrics->score(Counts(metrics->units(), 1));
    for (size_t m = 0; m < metrics->names().size(); ++m) {
      const auto& name = metrics->names()[m];
      const auto& expected = c["metrics"][name];
      const auto interval = percentile_interval(replicates[m], c["confidence"].get<double>());
      INFO(c["kind"].get<std::string>() << " " << name);
      CHECK(std::abs(plain[m] - expected["value"].get<double>()) < 1e-9);
      CHECK(std::abs(interval.low - expected["low"].get<double>()) < 1e-9);
      CHECK(std::abs(interval.high - expected["high"].get<double>()) < 1e-9);
      CHECK(interval.low < interval.high);
      seen.insert(name);
    }
  }
  // Every metric the suite reports.
  CHECK(seen == std::set<std::string>{"accuracy", "macro_f1", "mcc", "pearson", "spearman", "precision", "recall", "f1",
                                      "exact_match"});
}

TEST_CASE("resampled metrics with every unit once are the plain metrics", "[metrics][bootstrap]") {
  const Strings gold = {"a", "a", "b", "b", "c", "a"}, pred = {"a", "b", "b", "c", "c", "a"};
  const auto labels = label_metrics(gold, pred, {"accuracy", "macro_f1", "mcc"});
  const auto v = labels->score(Counts(6, 1));
  CHECK(v[0] == Approx(accuracy(gold, pred)).margin(1e-12));
  CHECK(v[1] == Approx(macro_f1(gold, pred)).margin(1e-12));
  CHECK(v[2] == Approx(matthews_corrcoef(gold, pred)).margin(1e-12));
  // Counting a unit twice is the data with that unit repeated.
  const auto twice = labels->score(Counts{2, 1, 1, 1, 1, 0});
  const Strings g2 = {"a", "a", "a", "b", "b", "c"}, p2 = {"a", "a", "b", "b", "c", "c"};
  CHECK(twice[1] == Approx(macro_f1(g2, p2)).margin(1e-12));
  CHECK(twice[2] == Approx(matthews_corrcoef(g2, p2)).margin(1e-12));

  const std::vector<double> x = {1, 2, 2, 3, 5}, y = {2, 1, 4, 4, 6};
  const auto corr = correlation_metrics(x, y, {"pearson", "spearman"});
  CHECK(corr->score(Counts(5, 1))[0] == Approx(pearson(x, y)).margin(1e-10));
  CHECK(corr->score(Counts(5, 1))[1] == Approx(spearman(x, y)).margin(1e-10));
  const auto rep = corr->score(Counts{0, 2, 1, 1, 1});
  CHECK(rep[1] == Approx(spearman({2, 2, 2, 3, 5}, {1, 1, 4, 4, 6})).margin(1e-10));

  const std::vector<Strings> tg = {{"PER-B", "PER-I", "O"}, {"LOC-B", "O"}}, tp = {{"PER-B", "O", "O"}, {"LOC-B", "O"}};
  const auto ent = entity_metrics(tg, tp, TagStyle::suffix);
  CHECK(ent->score(Counts(2, 1))[2] == Approx(entity_scores(tg, tp, TagStyle::suffix).f1).margin(1e-12));
  CHECK(ent->score(Counts{0, 2})[2] == Approx(100.0));

  CHECK_THROWS_AS(labels->score(Counts(5, 1)), std::invalid_argument);
  CHECK_THROWS_AS(label_metrics(gold, pred, {"auc"}), std::invalid_argument);
  CHECK_THROWS_AS(counts_of({0, 7}, 3), std::invalid_argument);
}

TEST_CASE("bootstrap resampler is seeded and percentiles interpolate like numpy", "[metrics][bootstrap]") {
  Resampler a(50, 7), b(50, 7), c(50, 8);
  Counts ca, cb, cc;
  a.draw(ca);
  b.draw(cb);
  c.draw(cc);
  CHECK(ca == cb);
  CHECK(ca != cc);
  CHECK(std::accumulate(ca.begin(), ca.end(), 0u) == 50u);
  // numpy.percentile([1, 2, 3, 4, 5], [2.5, 97.5]) == [1.1, 4.9]
  const auto i = percentile_interval({5, 3, 1, 2, 4}, 0.95);
  CHECK(i.low == Approx(1.1).margin(1e-12));
  CHECK(i.high == Approx(4.9).margin(1e-12));
  CHECK(percentile({4, 1}, 50) == Approx(2.5));
  const auto metrics = label_metrics({"1", "0"}, {"1", "1"}, {"accuracy"});
  CHECK_THROWS_AS(bootstrap_replicates({metrics.get()}, BootstrapOptions{0, 0, 0.95}), std::invalid_argument);
  CHECK_THROWS_AS(percentile_interval({1.0}, 1.5), std::invalid_argument);
}

TEST_CASE("bootstrap intervals cover the true value about 95 % of the time", "[metrics][bootstrap]") {
  // 1,000 simulated test sets whose true value is known; each gets a 95 % interval from 400 resamples.
  constexpr int kSets = 1000;
  std::mt19937_64 rng(123);
  SECTION("accuracy of a classifier that is right with probability 0.8, 300 examples") {
    std::bernoulli_distribution right(0.8);
    int covered = 0;
    for (int s = 0; s < kSets; ++s) {
      Strings gold(300, "1"), pred;
      for (int i = 0; i < 300; ++i) pred.push_back(right(rng) ? "1" : "0");
      const auto m = label_metrics(gold, pred, {"accuracy"});
      const auto ci = bootstrap_intervals(*m, BootstrapOptions{400, static_cast<uint64_t>(s), 0.95})[0].interval;
      covered += ci.low <= 80.0 && 80.0 <= ci.high;
    }
    // Binomial noise of 1,000 sets at 95 %: sd 0.69 points; 3 sd either way.
    CHECK(covered >= 929);
    CHECK(covered <= 971);
  }
  SECTION("Pearson correlation of a bivariate normal with rho 0.6, 300 pairs") {
    std::normal_distribution<double> normal;
    int covered = 0;
    for (int s = 0; s < kSets; ++s) {
      std::vector<double> x, y;
      for (int i = 0; i < 300; ++i) {
        const double u = normal(rng), v = normal(rng);
        x.push_back(u);
        y.push_back(0.6 * u + 0.8 * v);
      }
      const auto m = correlation_metrics(x, y, {"pearson"});
      const auto ci = bootstrap_intervals(*m, BootstrapOptions{400, static_cast<uint64_t>(s), 0.95})[0].interval;
      covered += ci.low <= 60.0 && 60.0 <= ci.high;
    }
    CHECK(covered >= 929);
    CHECK(covered <= 971);
  }
}
