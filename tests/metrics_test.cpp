#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/classification.h"
#include "metrics/correlation.h"
#include "metrics/entity.h"
#include "metrics/metric_names.h"
#include "metrics/qa.h"
#include "tests/catch.h"

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
  CHECK(pearson({1, 2, 3}, {5, 5, 5}) == 0.0);
  CHECK(average_ranks({10, 20, 20, 30, 20}) == std::vector<double>{1, 3, 3, 5, 3});
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: cov 4.5, var 4.5 and 5.
  CHECK(spearman({1, 2, 2, 3}, {1, 3, 2, 4}) == Approx(100.0 * 4.5 / std::sqrt(22.5)));
  CHECK(spearman({1, 2, 3, 4}, {10, 20, 30, 1000}) == Approx(100.0));
  CHECK_THROWS_AS(spearman({1}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(pearson({1, 2}, {1, 2, 3}), std::invalid_argument);
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
