#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "leaderboard/leaderboard.h"
#include "leaderboard/results.h"
#include "metrics/classification.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using namespace electra;

namespace {

const fs::path kFixtures = fs::path(electra::test::fixtures_dir()) / "leaderboard";
const fs::path kConfigs = fs::path(electra::source_dir()) / "configs" / "leaderboards";

fs::path fresh_dir(const std::string& name) { return electra::test::fresh_dir("leaderboard_" + name); }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

using electra::test::contains;
using electra::test::run_command;

std::string shell_quoted(const fs::path& path) { return "'" + path.string() + "'"; }

RunResult make_run(const std::string& task, const std::string& name, int64_t seed, const std::string& split,
                   const std::string& metric, double value) {
  RunResult run;
  run.task = task;
  run.model = name;
  run.seed = seed;
  run.split = split;
  run.metrics = {{metric, value}, {"main", value}};
  run.main_metric = metric;
  run.file = fmt::format("{}/{}/{}/results.json", name, task, seed);
  return run;
}

// The fixture runs with their paths relative to the fixture folder, so that outputs are the same everywhere.
std::vector<RunResult> fixture_runs() {
  auto runs = collect_results({kFixtures / "runs"});
  for (auto& run : runs) run.file = run.file.lexically_relative(kFixtures);
  return runs;
}

void check_golden(const std::string& name, const std::string& actual) {
  const auto file = kFixtures / name;
  if (std::getenv("ELECTRA_UPDATE_GOLDEN")) write_file_atomic(file, actual);
  INFO("golden file " << file.string() << " (set ELECTRA_UPDATE_GOLDEN=1 to rewrite it)");
  CHECK(read_file(file) == actual);
}

// An NSMC test file of `n` reviews (labels alternate, or all "1" when `flipped`) in `dir`.
fs::path write_nsmc_test(const fs::path& dir, int n, bool flipped = false) {
  fs::create_directories(dir);
  std::string text = "id\tdocument\tlabel\n";
  for (int i = 0; i < n; ++i) text += fmt::format("{}\treview {}\t{}\n", 1000 + i, i, flipped ? 1 : i % 2);
  write_file_atomic(dir / "ratings_test.txt", text);
  return dir;
}

// A finished NSMC run in `dir` as the trainer leaves it (results.json, config.yaml naming the data folder,
// predictions_test.txt) whose predictions are right on every review but `wrong` evenly spaced ones.
void write_nsmc_run(const fs::path& dir, const fs::path& data_dir, const std::string& model, int64_t seed, int n, int wrong) {
  fs::create_directories(dir);
  std::vector<std::string> gold, pred;
  for (int i = 0; i < n; ++i) {
    gold.push_back(std::to_string(i % 2));
    const bool miss = wrong > 0 && i % (n / wrong) == 0 && i / (n / wrong) < wrong;
    pred.push_back(miss ? std::to_string(1 - i % 2) : gold.back());
  }
  std::string lines;
  for (const auto& p : pred) lines += p + "\n";
  write_file_atomic(dir / "predictions_test.txt", lines);
  write_file_atomic(dir / "config.yaml", fmt::format("task: nsmc\ndata:\n  data_dir: \"{}\"\n", data_dir.string()));
  RunResult run;
  run.task = "nsmc";
  run.model = model;
  run.seed = seed;
  run.split = "test";
  const double acc = metrics::accuracy(gold, pred);
  run.metrics = {{"accuracy", acc}, {"main", acc}};
  run.main_metric = "accuracy";
  write_results_file(dir / "results.json", run);
}
}  // namespace

TEST_CASE("results reader accepts single runs and the runs form", "[leaderboard]") {
  const auto runs = read_results_file(kFixtures / "runs" / "tiny-ko" / "nsmc" / "seed42" / "results.json");
  REQUIRE(runs.size() == 1);
  const auto& run = runs[0];
  CHECK(run.task == "nsmc");
  CHECK(run.model == "runs/tiny-ko/best");
  CHECK(run.display_name() == "tiny-ko");
  CHECK(run.params == 13548800);
  CHECK(run.seed == 42);
  CHECK(run.split == "test");
  CHECK(run.metrics.at("main") == Approx(81.234));
  CHECK(run.metrics_for("dev")->at("accuracy") == Approx(80.234));
  CHECK(run.metrics_for("test") == &run.metrics);
  CHECK(run.steps == 120);
  CHECK(run.versions.at("libtorch") == "1.13.1");
  CHECK(run.throughput.at("train_examples_per_s") == Approx(310.2));

  const auto several = read_results_file(kFixtures / "runs" / "full-ko" / "results.json");
  CHECK(several.size() == 9);
  CHECK(several[6].task == "korquad");
  CHECK(several[6].metrics.at("exact_match") == Approx(81.0));

  // Written and read back unchanged.
  const auto again = parse_results(results_to_json(run), "again.json");
  REQUIRE(again.size() == 1);
  CHECK(again[0].metrics == run.metrics);
  CHECK(again[0].split_metrics == run.split_metrics);
  CHECK(again[0].versions == run.versions);
  CHECK(parse_results(results_to_json(several), "again.json").size() == 9);

  CHECK(collect_results({kFixtures / "runs"}).size() == 7 + 9);
  // The same file named twice (directly and through its folder) is read once.
  CHECK(collect_results({kFixtures / "runs" / "full-ko", kFixtures / "runs" / "full-ko" / "results.json"}).size() == 9);
}

TEST_CASE("results reader rejects malformed files naming file and key", "[leaderboard]") {
  const std::string good =
      R"({"task": "nsmc", "model": "m", "seed": 42, "split": "test", "metrics": {"accuracy": 80.0, "main": 80.0}, "main_metric": "accuracy"})";
  CHECK(parse_results(good, "x.json").size() == 1);
  auto error = [](const std::string& text) { return error_of([&] { parse_results(text, "run7/results.json"); }); };
  auto replaced = [&](const std::string& from, const std::string& to) {
    auto text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  CHECK(contains(error(replaced(R"("task": "nsmc", )", "")), "run7/results.json: key 'task': missing"));
  CHECK(contains(error(replaced(R"("seed": 42)", R"("seed": "42")")), "key 'seed': expected an integer"));
  CHECK(contains(error(replaced(R"("split": "test")", R"("split": "validation")")), "key 'split': expected \"dev\" or \"test\""));
  CHECK(contains(error(replaced(R"("main": 80.0)", R"("main": null)")), "key 'metrics.main': expected a number, got null"));
  CHECK(contains(error(replaced(R"(, "main": 80.0)", "")), "key 'metrics.main': missing"));
  CHECK(contains(error(replaced(R"("main": 80.0)", R"("main": 81.0)")), "key 'metrics.main'"));
  CHECK(contains(error(replaced(R"("main_metric": "accuracy")", R"("main_metric": "f1")")), "key 'main_metric'"));
  CHECK(contains(error(replaced(R"("seed": 42)", R"("seed": 42, "schema_version": 2)")), "key 'schema_version'"));
  CHECK(contains(error(replaced(R"("seed": 42)", R"("seed": 42, "params": -3)")), "key 'params'"));
  // Scores are x100 within each metric's range.
  CHECK(contains(error(replaced(R"("accuracy": 80.0, "main": 80.0)", R"("accuracy": -50, "main": -50)")),
                 "key 'metrics.accuracy': -50 is outside accuracy's range [0, 100]"));
  CHECK(contains(error(replaced(R"("accuracy": 80.0, "main": 80.0)", R"("accuracy": 1e308, "main": 1e308)")),
                 "outside accuracy's range"));
  std::string mcc = replaced(R"("accuracy": 80.0, "main": 80.0)", R"("mcc": -12.5, "main": -12.5)");
  const std::string main_accuracy = R"("main_metric": "accuracy")";
  mcc.replace(mcc.find(main_accuracy), main_accuracy.size(), R"("main_metric": "mcc")");
  CHECK(parse_results(mcc, "x.json").size() == 1);
  CHECK(contains(error(replaced(R"("seed": 42)", R"("seed": 42, "split_metrics": {"dev": {"accuracy": 1}})")),
                 "key 'split_metrics.dev.main': missing"));
  CHECK(contains(error(replaced(R"("seed": 42)", R"("seed": 42, "versions": {"electra": 1})")), "key 'versions.electra'"));
  CHECK(contains(error(R"({"runs": [)" + good + "," + replaced(R"("model": "m", )", "") + "]}"),
                 "run7/results.json: key 'runs[1].model': missing"));
  CHECK(contains(error(R"({"runs": []})"), "key 'runs'"));
  CHECK(contains(error("{\"task\": \n"), "run7/results.json: not valid JSON"));
  CHECK(contains(error("[1, 2]"), "run7/results.json: expected a JSON object"));
  CHECK_THROWS_AS(parse_results("", "x.json"), std::runtime_error);

  const auto empty = fresh_dir("empty");
  CHECK_THROWS_AS(collect_results({empty}), std::runtime_error);
  CHECK_THROWS_AS(collect_results({empty / "missing"}), std::runtime_error);
  CHECK(contains(error_of([&] { collect_results({empty / "missing"}); }), "missing: no such file or directory"));
  CHECK(contains(error_of([&] { collect_results({empty}); }), "no results.json found under it"));
  electra::remove_tree(empty);
}

TEST_CASE("an undefined correlation is null in results.json and refused by name in a leaderboard", "[leaderboard]") {
  // electra writes a NaN metric (Pearson/Spearman of constant predictions) as null: JSON has no NaN.
  const std::string text =
      R"({"task": "stsb", "model": "m", "seed": 7, "split": "dev", "metrics": {"pearson": null, "spearman": null,)"
      R"( "main": null}, "main_metric": "spearman", "split_metrics": {"dev": {"pearson": null, "spearman": null,)"
      R"( "main": null}}})";
  const auto runs = parse_results(text, "flat.json");
  REQUIRE(runs.size() == 1);
  CHECK(std::isnan(runs[0].metrics.at("spearman")));
  CHECK(std::isnan(runs[0].metrics.at("main")));
  // Written back as null, read back the same.
  const auto json = nlohmann::json::parse(results_to_json(runs[0]));
  CHECK(json["metrics"]["spearman"].is_null());
  CHECK(std::isnan(parse_results(results_to_json(runs[0]), "again.json")[0].metrics.at("main")));
  // Only the correlations can be undefined; an accuracy of null is a broken file.
  const std::string broken =
      R"({"task": "sst2", "model": "m", "seed": 1, "split": "dev", "metrics": {"accuracy": null, "main": null},)"
      R"( "main_metric": "accuracy"})";
  CHECK(contains(error_of([&] { parse_results(broken, "b.json"); }), "b.json: key 'metrics.accuracy': expected a number, got null"));
  // The median over seeds with an undefined seed is undefined: the leaderboard names the run rather than dropping the
  // seed or counting it as 0.
  auto defined = make_run("stsb", "m", 8, "dev", "spearman", 85.0);
  auto flat = runs[0];
  flat.file = "m/stsb/7/results.json";
  const auto message = error_of([&] { build_leaderboard(find_leaderboard_spec("glue"), {defined, flat}); });
  CHECK(contains(message, "m/stsb/7/results.json: key 'metrics.spearman' is undefined (null: the predictions or the "
                          "gold scores were constant); the glue leaderboard's stsb column cannot rank seed 7"));
}

TEST_CASE("results under linked run folders are found, and a link loop is named", "[leaderboard]") {
  namespace fs = std::filesystem;
  const auto dir = fresh_dir("linked_runs");
  fs::create_directories(dir / "board");
  fs::create_directory_symlink(fs::absolute(kFixtures / "runs" / "full-ko"), dir / "board" / "full-ko");
  fs::create_directory_symlink(fs::absolute(kFixtures / "runs" / "tiny-ko"), dir / "board" / "tiny-ko");
  CHECK(collect_results({dir / "board"}).size() == 7 + 9);
  fs::create_directory_symlink(dir / "board", dir / "board" / "again");
  const std::string loop = error_of([&] { collect_results({dir / "board"}); });
  CHECK(contains(loop, (dir / "board" / "again").string() + ": a symbolic link loop"));
  fs::remove(dir / "board" / "again");
  fs::create_symlink(dir / "missing", dir / "board" / "dangling");
  CHECK(contains(error_of([&] { collect_results({dir / "board"}); }),
                 (dir / "board" / "dangling").string() + ": a symbolic link to nothing"));
  electra::remove_tree(dir);
}

TEST_CASE("leaderboard numbers are formatted as published", "[leaderboard]") {
  CHECK(format_fixed(80.265, 2) == "80.27");  // the decimal value's half rounds away from zero
  CHECK(format_fixed(81.29375, 2) == "81.29");
  CHECK(format_fixed(-0.001, 2) == "0.00");
  CHECK(format_fixed(-1.005, 2) == "-1.01");
  CHECK(format_fixed(55.6, 1) == "55.6");
  CHECK(format_params(13548800) == "14M");
  CHECK(format_params(17'500'000) == "18M");
  CHECK(format_params(270'000) == "270K");
  CHECK(format_params(512) == "512");
}

TEST_CASE("leaderboard specs load with every published row", "[leaderboard]") {
  const auto korean = find_leaderboard_spec("korean");
  CHECK(korean.columns.size() == 8);
  CHECK(korean.columns[6].task == "korquad");
  CHECK(korean.columns[6].secondary_metric == "exact_match");
  CHECK(korean.published.size() == 5);
  CHECK(korean.published[0].scores.at("hate-speech").decimals == 2);  // "64.50" keeps its zero
  CHECK(korean.published[2].secondary.at("korquad").value == Approx(82.11));
  std::set<std::string> test_columns;
  for (const auto& column : korean.columns)
    if (column.split == "test") test_columns.insert(column.task);
  CHECK(test_columns == std::set<std::string>{"nsmc", "naver-ner", "paws", "kornli", "korsts", "question-pair"});

  const auto glue = load_leaderboard_spec(kConfigs / "glue.yaml");
  CHECK(glue.columns.size() == 8);
  CHECK(glue.published.size() == 4);
  CHECK(glue.published[1].scores.at("cola").decimals == 1);
  for (const auto& column : glue.columns) CHECK(column.split == "dev");
  for (const auto* spec : {&korean, &glue})
    for (const auto& row : spec->published) {
      CHECK(!row.source.empty());
      CHECK(!row.params_text.empty());
      CHECK(row.scores.size() == 8);
    }
  CHECK_THROWS_AS(find_leaderboard_spec("klue"), std::invalid_argument);
  CHECK(contains(error_of([] { find_leaderboard_spec("klue"); }), "known: glue, korean"));
}

TEST_CASE("leaderboard spec errors name the file and key", "[leaderboard]") {
  const auto dir = fresh_dir("spec");
  const auto original = read_file(kConfigs / "glue.yaml");
  auto load_with = [&](const std::string& from, const std::string& to) {
    auto text = original;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    write_file_atomic(dir / "bad.yaml", text);
    return error_of([&] { load_leaderboard_spec(dir / "bad.yaml"); });
  };
  CHECK(contains(load_with("avg: 79.71", "avg: 79.72"), "published[1].avg': 79.72 disagrees with the mean of the row's scores, 79.71"));
  CHECK(contains(load_with("rule: mean_of_main", "rule: median"), "key 'average.rule': unknown rule 'median'"));
  CHECK(contains(load_with("    split: dev\n", "    split: validation\n"), "key 'columns[0].split'"));
  CHECK(contains(load_with("    metric: mcc\n", "    metric: mcc\n    weight: 2\n"), "key 'columns[0].weight': unknown key"));
  CHECK(contains(load_with("cola: 27.8", "cola: 27.8x"), "published[2].scores.cola': expected a number, got '27.8x'"));
  CHECK(contains(load_with("cola: 27.8", "colla: 27.8"), "key 'published[2].scores.colla': unknown key"));
  // A published score lies in its metric's range (x100): MCC in [-100, 100], accuracy in [0, 100].
  CHECK(contains(load_with("cola: 27.8", "cola: -127.8"), "published[2].scores.cola': -127.8 is outside mcc's range"));
  CHECK(contains(load_with("sst2: 89.7", "sst2: -89.7"), "published[2].scores.sst2': -89.7 is outside accuracy's range"));
  CHECK(contains(load_with("name: BERT-small", "name: ELECTRA-small"), "duplicate row 'ELECTRA-small'"));
  CHECK(contains(load_with("  - task: rte\n", "  - task: rte\n    aliases: [cola]\n"), "task name 'cola' used by two columns"));
  CHECK(contains(load_with("title: Results", "titel: Results"), "bad.yaml"));
  CHECK_THROWS_AS(load_leaderboard_spec(dir / "missing.yaml"), std::runtime_error);
  write_file_atomic(dir / "broken.yaml", "name: [unclosed\n");
  CHECK_THROWS_AS(load_leaderboard_spec(dir / "broken.yaml"), std::runtime_error);
  electra::remove_tree(dir);
}

TEST_CASE("leaderboard replays each published row to its Avg", "[leaderboard]") {
  // Acceptance: the published numbers of every seed row, fed back as results.json files, give the seed's Avg.
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> expected = {
      {"korean", {{"TUNiB-Electra-ko-small", "81.29"}, {"TUNiB-Electra-ko-en-small", "81.44"}, {"KoELECTRA-small-v3", "82.58"}}},
      {"glue", {{"TUNiB-Electra-ko-en-small", "80.44"}, {"ELECTRA-small", "79.71"}, {"BERT-small", "74.06"}}}};
  for (const auto& [suite, rows] : expected) {
    const auto spec = find_leaderboard_spec(suite);
    const auto dir = fresh_dir("replay_" + suite);
    for (const auto& [name, avg] : rows) {
      const auto published = std::find_if(spec.published.begin(), spec.published.end(),
                                           [&](const PublishedRow& r) { return r.name == name; });
      REQUIRE(published != spec.published.end());
      for (const auto& column : spec.columns) {
        RunResult run;
        run.task = column.task;
        run.model = "replay/" + name;
        run.model_name = "replay " + name;
        run.seed = 42;
        run.split = column.split;
        run.main_metric = column.metric;
        run.metrics[column.metric] = run.metrics["main"] = published->scores.at(column.task).value;
        if (!column.secondary_metric.empty())
          run.metrics[column.secondary_metric] = published->secondary.at(column.task).value;
        write_results_file(dir / name / column.task / "results.json", run);
      }
    }
    const auto table = build_leaderboard(spec, collect_results({dir}));
    CHECK(table.notes.empty());
    for (const auto& [name, avg] : rows) {
      INFO(suite << ": " << name);
      const auto row = std::find_if(table.rows.begin(), table.rows.end(),
                                    [&](const LeaderboardRow& r) { return r.ours && r.name == "replay " + name; });
      REQUIRE(row != table.rows.end());
      REQUIRE(row->avg.has_value());
      CHECK(format_fixed(row->avg->value, 2) == avg);
    }
    const auto markdown = render_leaderboard(table, LeaderboardFormat::markdown);
    for (const auto& [name, avg] : rows) CHECK(contains(markdown, "***replay " + name + "*** (ours) | "));

    if (suite != "korean") {
      electra::remove_tree(dir);
      continue;
    }
    // The same through the command line, as json (once: each start of the binary loads LibTorch).
    const auto out = dir / "board.json";
    const auto cli = run_command(fmt::format("{} eval --leaderboard {} {} --output {}", shell_quoted(electra::test::electra_binary()), suite,
                                             shell_quoted(dir), shell_quoted(out)));
    INFO(cli.output);
    REQUIRE(cli.status == 0);
    const auto json = nlohmann::json::parse(read_file(out));
    for (const auto& row : json["rows"])
      if (row["kind"] == "ours")
        for (const auto& [name, avg] : rows)
          if (row["name"] == "replay " + name) CHECK(format_fixed(row["avg"].get<double>(), 2) == avg);
    electra::remove_tree(dir);
  }
}

TEST_CASE("leaderboard groups seeds, takes the column's split and marks the best", "[leaderboard]") {
  const auto spec = find_leaderboard_spec("korean");
  const auto table = build_leaderboard(spec, fixture_runs(), LeaderboardOptions{"TUNiB-Electra-ko-en-small"});
  REQUIRE(table.rows.size() == 7);
  const auto& full = table.rows[5];
  const auto& tiny = table.rows[6];
  CHECK(full.name == "full-ko");
  CHECK(tiny.name == "tiny-ko");
  CHECK(full.ours);
  CHECK(full.params_text == "18M");
  CHECK(full.cells.at("kornli").main.value == Approx(78.0));  // median of two seeds = their mean
  CHECK(full.cells.at("kornli").seeds == std::vector<int64_t>{42, 43});
  REQUIRE(full.avg.has_value());
  CHECK(format_fixed(full.avg->value, 2) == "82.23");
  CHECK(full.delta.at("nsmc") == Approx(90.12 - 89.28));
  CHECK(full.delta_secondary.at("korquad") == Approx(81.0 - 80.55));
  CHECK(*full.delta_avg == Approx(82.23 - 81.44));
  CHECK(full.cells.at("nsmc").best);
  CHECK(full.cells.at("question-pair").best);
  CHECK(table.rows[0].cells.at("question-pair").best == false);  // 94.98 < 95.25
  CHECK(table.rows[2].avg_best);                                 // KoELECTRA-small-v3's 82.58

  CHECK(tiny.cells.at("nsmc").main.value == Approx(81.234));  // median of 80.5, 81.234, 82.0 on test, not dev
  CHECK(tiny.cells.at("nsmc").min == Approx(80.5));
  CHECK(tiny.cells.at("nsmc").max == Approx(82.0));
  CHECK(tiny.cells.count("paws") == 0);  // scored on dev only, the column is test
  CHECK(tiny.cells.at("hate-speech").main.value == Approx(55.555));  // "hate_speech" is accepted
  CHECK(!tiny.avg.has_value());
  CHECK(*tiny.partial_avg == Approx((81.234 + 61.875 + 55.555) / 3));
  CHECK(!tiny.delta_avg.has_value());
  REQUIRE(table.notes.size() == 2);
  CHECK(contains(table.notes[0], "paws was scored on dev only, the column reports test"));
  CHECK(contains(table.notes[1], "task 'squad' is not a column of the korean leaderboard"));

  CHECK_THROWS_AS(build_leaderboard(spec, {}, LeaderboardOptions{"KoELECTRA-base"}), std::invalid_argument);
  // A published-only table has no Δ rows.
  const auto published_only = render_leaderboard(build_leaderboard(spec, {}), LeaderboardFormat::markdown);
  CHECK(!contains(published_only, "(ours)"));
  CHECK(contains(published_only, "| **82.58** |"));
}

TEST_CASE("leaderboard merges repeated runs and refuses conflicting ones", "[leaderboard]") {
  const auto spec = find_leaderboard_spec("glue");
  const auto a = make_run("cola", "m", 1, "dev", "mcc", 50.0);
  auto repeat = a;
  repeat.file = "copy/results.json";
  const auto merged = build_leaderboard(spec, {a, repeat});
  CHECK(merged.rows.back().cells.at("cola").seeds.size() == 1);
  REQUIRE(merged.notes.size() == 1);
  CHECK(contains(merged.notes[0], "counted once"));
  auto other = repeat;
  other.metrics = {{"mcc", 51.0}, {"main", 51.0}};
  CHECK(contains(error_of([&] { build_leaderboard(spec, {a, other}); }), "disagree: m/cola/1/results.json gives 50"));
  // The column's metric must be in the run.
  const auto wrong = make_run("sst2", "m", 1, "dev", "f1", 90.0);
  CHECK(contains(error_of([&] { build_leaderboard(spec, {wrong}); }), "key 'metrics.accuracy': missing"));
  // Several seeds: the median, the range shown.
  const auto table = build_leaderboard(spec, {make_run("rte", "m", 1, "dev", "accuracy", 60.0),
                                              make_run("rte", "m", 2, "dev", "accuracy", 70.0),
                                              make_run("rte", "m", 3, "dev", "accuracy", 61.0),
                                              make_run("rte", "m", 4, "dev", "accuracy", 66.0)});
  CHECK(table.rows.back().cells.at("rte").main.value == Approx(63.5));
  const auto markdown = render_leaderboard(table, LeaderboardFormat::markdown);
  CHECK(contains(markdown, "| 63.50 (60.00\u201370.00) |"));
  CHECK(contains(markdown, "| \u2013 | \u2013 |"));  // missing cells
}

TEST_CASE("leaderboard renders markdown, csv and json as the golden files", "[leaderboard]") {
  const auto table = build_leaderboard(find_leaderboard_spec("korean"), fixture_runs(),
                                       LeaderboardOptions{"TUNiB-Electra-ko-en-small"});
  const auto markdown = render_leaderboard(table, LeaderboardFormat::markdown);
  // The seed's header layout.
  CHECK(contains(markdown, "| **NSMC**<br/>(acc) | **Naver NER**<br/>(F1) |"));
  CHECK(contains(markdown, "| **KorQuaD (Dev)**<br/>(EM/F1) | **Korean-Hate-Speech (Dev)**<br/>(F1) |"));
  CHECK(contains(markdown, "| [KoELECTRA-small-v3](https://github.com/monologg/KoELECTRA) | 14M | **82.58** |"));
  CHECK(contains(markdown, "| **82.11 / 91.13** |"));
  check_golden("korean.md", markdown);
  check_golden("korean.csv", render_leaderboard(table, LeaderboardFormat::csv));
  check_golden("korean.json", render_leaderboard(table, LeaderboardFormat::json));
  check_golden("korean.txt", render_leaderboard(table, LeaderboardFormat::text));
  const auto json = nlohmann::json::parse(render_leaderboard(table, LeaderboardFormat::json));
  CHECK(json["rows"].size() == 7);
}

TEST_CASE("electra eval command renders leaderboards and refuses bad use", "[leaderboard]") {
  const auto dir = fresh_dir("cli");
  const auto bin = shell_quoted(electra::test::electra_binary());
  const auto usage = run_command(bin + " eval");
  CHECK(usage.status != 0);
  CHECK(contains(usage.output, "--leaderboard korean|glue RUN_DIR..."));

  const auto out = dir / "board.html";
  const auto html = run_command(fmt::format("{} eval --leaderboard korean {} --output {} --compare TUNiB-Electra-ko-small",
                                            bin, shell_quoted(kFixtures / "runs"), shell_quoted(out)));
  INFO(html.output);
  CHECK(html.status == 0);
  CHECK(contains(html.output, "note: "));  // the runs left out are reported
  CHECK(contains(read_file(out), "<!DOCTYPE html>"));

  // --output naming a folder is refused by name and leaves nothing behind (no <DIR>.tmp.<pid>).
  fs::create_directories(dir / "taken");
  const auto into_dir = run_command(fmt::format("{} eval --leaderboard korean {} --output {}", bin,
                                                shell_quoted(kFixtures / "runs"), shell_quoted(dir / "taken")));
  CHECK(into_dir.status == 1);
  CHECK(contains(into_dir.err, "cannot write " + (dir / "taken").string() + ": it is a directory"));
  CHECK(electra::list_directory(dir).size() == 2);  // board.html and taken/

  CHECK(run_command(fmt::format("{} eval --leaderboard korean {} --format pdf", bin, shell_quoted(kFixtures))).status != 0);
  const auto bad_compare = run_command(fmt::format("{} eval --leaderboard korean --compare nobody", bin));
  CHECK(bad_compare.status != 0);
  CHECK(contains(bad_compare.output, "no published row 'nobody'"));

  write_suite_leaderboard("korean", {kFixtures / "runs"}, dir / "suite");
  for (const auto* ext : {".md", ".html", ".json"}) CHECK(fs::is_regular_file(dir / "suite" / (std::string("leaderboard_korean") + ext)));
  electra::remove_tree(dir);
}

namespace {

// Just enough PNG decoding to look at the pixels: 8-bit RGB/RGBA, non-interlaced, zlib from the system.
struct Image {
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<unsigned char> pixels;
};

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

Image decode_png(const fs::path& file) {
  const auto data = read_file(file);
  REQUIRE(data.size() > 33);
  REQUIRE(data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  Image image;
  std::string compressed;
  int bit_depth = 0, color_type = 0, interlace = 0;
  for (size_t at = 8; at + 12 <= data.size();) {
    const uint32_t length = be32(data, at);
    const auto type = data.substr(at + 4, 4);
    REQUIRE(at + 12 + length <= data.size());
    if (type == "IHDR") {
      image.width = be32(data, at + 8);
      image.height = be32(data, at + 12);
      bit_depth = uint8_t(data[at + 16]);
      color_type = uint8_t(data[at + 17]);
      interlace = uint8_t(data[at + 20]);
    } else if (type == "IDAT") {
      compressed += data.substr(at + 8, length);
    }
    at += 12 + length;
  }
  REQUIRE(bit_depth == 8);
  REQUIRE((color_type == 2 || color_type == 6));
  REQUIRE(interlace == 0);
  image.channels = color_type == 2 ? 3 : 4;

  using Uncompress = int (*)(unsigned char*, unsigned long*, const unsigned char*, unsigned long);
  void* zlib = ::dlopen("libz.so.1", RTLD_NOW);
  REQUIRE(zlib != nullptr);
  const auto uncompress = reinterpret_cast<Uncompress>(::dlsym(zlib, "uncompress"));
  REQUIRE(uncompress != nullptr);
  const size_t stride = size_t(image.width) * image.channels;
  std::vector<unsigned char> raw((stride + 1) * image.height);
  unsigned long raw_size = raw.size();
  const int rc = uncompress(raw.data(), &raw_size, reinterpret_cast<const unsigned char*>(compressed.data()),
                            compressed.size());
  ::dlclose(zlib);
  REQUIRE(rc == 0);
  REQUIRE(raw_size == raw.size());

  image.pixels.assign(stride * image.height, 0);
  const int bpp = image.channels;
  for (size_t y = 0; y < image.height; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    const unsigned char* in = &raw[y * (stride + 1) + 1];
    unsigned char* out = &image.pixels[y * stride];
    const unsigned char* up = y ? &image.pixels[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(bpp) ? out[x - bpp] : 0;
      const int b = up ? up[x] : 0;
      const int c = up && x >= size_t(bpp) ? up[x - bpp] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: FAIL("bad PNG filter " << int(filter));
      }
      out[x] = static_cast<unsigned char>(in[x] + predictor);
    }
  }
  return image;
}

}  // namespace

TEST_CASE("leaderboard html renders in headless chromium with table and charts", "[leaderboard][browser]") {
  const auto browser = run_command("command -v chromium || command -v chromium-browser");
  INFO("headless Chromium is needed (Debian package chromium; `make deps` installs it): " << browser.output);
  REQUIRE(browser.status == 0);
  std::string chromium = browser.output.substr(0, browser.output.find('\n'));

  const auto dir = fresh_dir("browser");
  const auto table = build_leaderboard(find_leaderboard_spec("korean"), fixture_runs(),
                                       LeaderboardOptions{"TUNiB-Electra-ko-en-small"});
  const auto page = dir / "board.html";
  write_file_atomic(page, render_leaderboard(table, LeaderboardFormat::html));
  for (const auto* fetch : {"src=", "<link", "url(", "@import", "<script"}) CHECK(!contains(read_file(page), fetch));
  const auto flags = fmt::format(
      "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
      "--disable-component-update --disable-sync --hide-scrollbars --user-data-dir={}",
      shell_quoted(dir / "profile"));
  const auto png = dir / "board.png";
  const auto shot = run_command(fmt::format("timeout 120 {} {} --screenshot={} --window-size=1400,2000 {}", chromium, flags,
                                            shell_quoted(png), shell_quoted("file://" + page.string())));
  INFO(shot.output);
  REQUIRE(fs::is_regular_file(png));
  const auto image = decode_png(png);
  CHECK(image.width == 1400);
  CHECK(image.height == 2000);
  // Not blank: many colours, a good share of non-white pixels, and the orange of our bars.
  std::set<uint32_t> colours;
  size_t non_white = 0, ours_orange = 0;
  for (size_t i = 0; i + 2 < image.pixels.size(); i += image.channels) {
    const uint32_t r = image.pixels[i], g = image.pixels[i + 1], b = image.pixels[i + 2];
    colours.insert((r << 16) | (g << 8) | b);
    non_white += (r < 240 || g < 240 || b < 240);
    ours_orange += (r == 0xe8 && g == 0x59 && b == 0x0c);
  }
  const size_t total = size_t(image.width) * image.height;
  CHECK(colours.size() > 50);
  CHECK(non_white > total / 50);
  CHECK(ours_orange > 500);

  const auto dom = run_command(fmt::format("timeout 120 {} {} --dump-dom {}", chromium, flags, shell_quoted("file://" + page.string())));
  REQUIRE(dom.status == 0);
  CHECK(contains(dom.output, "<table class=\"board\">"));
  CHECK(contains(dom.output, "TUNiB-Electra-ko-en-small"));
  size_t charts = 0;
  for (size_t at = dom.output.find("<svg"); at != std::string::npos; at = dom.output.find("<svg", at + 1)) ++charts;
  CHECK(charts == 8);
  CHECK(contains(dom.output, "data-task=\"korquad\""));

  // Interval bands: the same runs with and without --bootstrap; the bands add blue to the picture.
  const auto data = write_nsmc_test(dir / "data", 1000);
  write_nsmc_run(dir / "runs/1", data, "tiny", 1, 1000, 150);
  write_nsmc_run(dir / "runs/2", data, "tiny", 2, 1000, 120);
  auto bluish_pixels = [&](int64_t bootstrap) {
    LeaderboardOptions options;
    options.compare = "KoELECTRA-small-v3";
    options.bootstrap = bootstrap;
    const auto board = dir / fmt::format("bands{}.html", bootstrap);
    write_file_atomic(board, render_leaderboard(build_leaderboard(find_leaderboard_spec("korean"),
                                                                  collect_results({dir / "runs"}), options),
                                                LeaderboardFormat::html));
    const auto shot_png = dir / fmt::format("bands{}.png", bootstrap);
    const auto r = run_command(fmt::format("timeout 120 {} {} --screenshot={} --window-size=1400,2000 {}", chromium, flags,
                                           shell_quoted(shot_png), shell_quoted("file://" + board.string())));
    INFO(r.output);
    REQUIRE(fs::is_regular_file(shot_png));
    const auto img = decode_png(shot_png);
    size_t n = 0;
    for (size_t i = 0; i + 2 < img.pixels.size(); i += img.channels)
      n += img.pixels[i + 2] > 150 && img.pixels[i + 2] > img.pixels[i] + 60;
    if (bootstrap > 0) {
      const auto bands_dom = run_command(fmt::format("timeout 120 {} {} --dump-dom {}", chromium, flags,
                                                     shell_quoted("file://" + board.string())));
      CHECK(contains(bands_dom.output, "<rect class=\"interval\""));
      CHECK(contains(bands_dom.output, "<span class=\"verdict\">"));
    }
    return n;
  };
  const size_t without = bluish_pixels(0), with = bluish_pixels(1000);
  CHECK(with > without + 100);
  electra::remove_tree(dir);
}

TEST_CASE("leaderboard cells get seed spread, bootstrap intervals and verdicts", "[leaderboard][bootstrap]") {
  const auto dir = fresh_dir("verdicts");
  const auto data = write_nsmc_test(dir / "data", 2000);
  // KoELECTRA-small-v3 publishes NSMC 89.36. good: 89.20, 89.45, 89.40; weak: 80.00; strong: 95.00 (one seed each).
  write_nsmc_run(dir / "good/1", data, "good", 1, 2000, 216);
  write_nsmc_run(dir / "good/2", data, "good", 2, 2000, 211);
  write_nsmc_run(dir / "good/3", data, "good", 3, 2000, 212);
  write_nsmc_run(dir / "weak/1", data, "weak", 1, 2000, 400);
  write_nsmc_run(dir / "strong/1", data, "strong", 1, 2000, 100);
  const auto spec = find_leaderboard_spec("korean");
  LeaderboardOptions options;
  options.compare = "KoELECTRA-small-v3";
  const auto table = build_leaderboard(spec, collect_results({dir / "good", dir / "weak", dir / "strong"}), options);
  INFO(render_leaderboard(table, LeaderboardFormat::text));
  std::map<std::string, const LeaderboardRow*> rows;
  for (const auto& row : table.rows) rows[row.name] = &row;
  const auto& good = rows.at("good")->cells.at("nsmc");
  CHECK(good.main.value == Approx(89.40));
  CHECK(good.sd == Approx(std::sqrt((0.15 * 0.15 + 0.1 * 0.1 + 0.05 * 0.05) / 2)).margin(1e-9));
  REQUIRE(good.test_interval);
  REQUIRE(good.interval);
  // Test-set sampling alone: about 2 x 1.96 x sqrt(0.894 x 0.106 / 2000) = 2.7 points wide.
  CHECK(good.test_interval->high - good.test_interval->low > 2.0);
  CHECK(good.test_interval->high - good.test_interval->low < 3.4);
  CHECK(good.interval->low < good.test_interval->low);  // the seed spread widens it
  CHECK(good.interval->high > good.test_interval->high);
  CHECK(good.verdict == Verdict::reproduced);
  CHECK(*good.published == Approx(89.36));
  CHECK(rows.at("weak")->cells.at("nsmc").verdict == Verdict::below);
  CHECK(rows.at("strong")->cells.at("nsmc").verdict == Verdict::above);
  CHECK(rows.at("weak")->cells.at("nsmc").sd == 0.0);
  CHECK(verdict_summary(*rows.at("good")) == "1 of 1 reproduced (0 below, 0 above)");
  CHECK(verdict_summary(*rows.at("weak")) == "0 of 1 reproduced (1 below, 0 above)");

  SECTION("every format carries the interval and the verdict") {
    const auto markdown = render_leaderboard(table, LeaderboardFormat::markdown);
    CHECK(contains(markdown, "89.40 \u00b1 "));
    CHECK(contains(markdown, "\u2713 (89.20\u201389.45, sd 0.13)"));
    CHECK(contains(markdown, "80.00 \u00b1 "));
    CHECK(contains(markdown, "\u25bc (1 seed)"));
    CHECK(contains(markdown, "Verdicts, good against KoELECTRA-small-v3: 1 of 1 reproduced"));
    CHECK(contains(render_leaderboard(table, LeaderboardFormat::text), "\u25b2 (1 seed)"));
    const auto csv = render_leaderboard(table, LeaderboardFormat::csv);
    CHECK(contains(csv, ",nsmc_sd,nsmc_low,nsmc_high,nsmc_test_low,nsmc_test_high,nsmc_verdict,"));
    CHECK(contains(csv, ",reproduced,"));
    const auto json = nlohmann::json::parse(render_leaderboard(table, LeaderboardFormat::json));
    bool found = false;
    for (const auto& row : json["rows"])
      if (row["name"] == "good") {
        found = true;
        CHECK(row["cells"]["nsmc"]["verdict"] == "reproduced");
        CHECK(row["cells"]["nsmc"]["interval"][0].get<double>() == Approx(good.interval->low).margin(1e-4));
        CHECK(row["cells"]["nsmc"]["test_interval"][1].get<double>() == Approx(good.test_interval->high).margin(1e-4));
      }
    CHECK(found);
    CHECK(json["bootstrap"]["resamples"] == 1000);
    const auto html = render_leaderboard(table, LeaderboardFormat::html);
    CHECK(contains(html, "<rect class=\"interval\""));
    CHECK(contains(html, "<span class=\"verdict\">\u2713</span>"));
  }
  SECTION("--bootstrap 0 gives no intervals; a run without predictions is named") {
    LeaderboardOptions none = options;
    none.bootstrap = 0;
    const auto plain = build_leaderboard(spec, collect_results({dir / "good"}), none);
    CHECK(!plain.rows.back().cells.at("nsmc").interval);
    fs::remove(dir / "weak/1/predictions_test.txt");
    const auto missing = build_leaderboard(spec, collect_results({dir / "weak"}), options);
    REQUIRE(missing.interval_notes.size() == 1);
    CHECK(contains(missing.interval_notes[0], "no predictions_test.txt beside " + (dir / "weak/1/results.json").string()));
  }
  SECTION("the same seed, resamples and runs give the same intervals") {
    const auto again = build_leaderboard(spec, collect_results({dir / "good"}), options);
    CHECK(again.rows.back().cells.at("nsmc").interval->low == good.interval->low);
  }
}

TEST_CASE("leaderboard --paired compares two sets of runs on the same test examples", "[leaderboard][bootstrap]") {
  const auto dir = fresh_dir("paired");
  const auto data = write_nsmc_test(dir / "data", 1000);
  write_nsmc_run(dir / "new/1", data, "tiny", 1, 1000, 100);
  write_nsmc_run(dir / "new/2", data, "tiny", 2, 1000, 110);
  write_nsmc_run(dir / "old/1", data, "tiny", 1, 1000, 200);
  write_nsmc_run(dir / "old/2", data, "tiny", 2, 1000, 190);
  const auto spec = find_leaderboard_spec("korean");
  LeaderboardOptions options;
  options.paired = collect_results({dir / "old"});
  const auto table = build_leaderboard(spec, collect_results({dir / "new"}), options);
  REQUIRE(table.paired.size() == 1);
  const auto& c = table.paired[0];
  CHECK(c.task == "nsmc");
  CHECK(c.difference == Approx(89.5 - 80.5));
  CHECK(c.interval.low > 0);
  CHECK(c.interval.low < c.difference);
  CHECK(c.interval.high > c.difference);
  CHECK(c.p_value < 0.01);
  CHECK(c.units == 1000);
  CHECK(contains(render_leaderboard(table, LeaderboardFormat::markdown), "Paired bootstrap, nsmc accuracy: tiny minus tiny"));

  SECTION("the same runs on both sides differ by nothing") {
    LeaderboardOptions same;
    same.paired = collect_results({dir / "new"});
    const auto t = build_leaderboard(spec, collect_results({dir / "new"}), same);
    CHECK(t.paired.at(0).difference == 0.0);
    CHECK(t.paired.at(0).p_value == 1.0);
  }
  SECTION("runs of another test file are refused, naming both files") {
    const auto other = write_nsmc_test(dir / "other", 1000, true);
    write_nsmc_run(dir / "elsewhere/1", other, "tiny", 1, 1000, 100);
    LeaderboardOptions elsewhere;
    elsewhere.paired = collect_results({dir / "elsewhere"});
    const auto message = error_of([&] { build_leaderboard(spec, collect_results({dir / "new"}), elsewhere); });
    CHECK(contains(message, "different test files"));
    CHECK(contains(message, (data / "ratings_test.txt").string()));
    CHECK(contains(message, (other / "ratings_test.txt").string()));
    const auto cli = run_command(fmt::format("{} eval --leaderboard korean {} --paired {}", shell_quoted(electra::test::electra_binary()),
                                             shell_quoted(dir / "new"), shell_quoted(dir / "elsewhere")));
    CHECK(cli.status == 1);
    CHECK(contains(cli.err, (other / "ratings_test.txt").string()));
  }
  SECTION("electra score --bootstrap prints each metric's interval") {
    const auto r = run_command(fmt::format("{} score --task nsmc --gold {} --predictions {} --bootstrap 300",
                                           shell_quoted(electra::test::electra_binary()), shell_quoted(data / "ratings_test.txt"),
                                           shell_quoted(dir / "new/1/predictions_test.txt")));
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["accuracy"].get<double>() == Approx(90.0));
    CHECK(j["bootstrap"]["resamples"] == 300);
    const auto interval = j["bootstrap"]["intervals"]["accuracy"];
    CHECK(interval[0].get<double>() < 90.0);
    CHECK(interval[1].get<double>() > 90.0);
    CHECK(interval[1].get<double>() - interval[0].get<double>() < 5.0);
    CHECK(contains(r.err, "accuracy 90.00 ["));
  }
}
