#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/files.h"
#include "metrics/metric_names.h"
#include "tasks/qa_task.h"
#include "tasks/scoring.h"
#include "tasks/sentence_task.h"
#include "tasks/task.h"
#include "tests/catch.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace electra;

namespace {

const fs::path fixtures = fs::path(electra::test::fixtures_dir()) / "tasks";

ReadResult read(const std::string& task, const fs::path& file, bool skip = false) {
  ReadOptions o;
  o.skip_bad_rows = skip;
  return find_task(task).read(file, o);
}

fs::path temp_file(const std::string& name, const std::string& content) {
  const fs::path dir = fs::temp_directory_path() / "electra_tasks_test";
  fs::create_directories(dir);
  write_file_atomic(dir / name, content);
  return dir / name;
}

Tokenizer tiny_tokenizer() {
  std::unordered_map<std::string, int64_t> vocab;
  const char* tokens[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat",  "on",
                          "mat",   ".",     "dog",   "run",   "##s",    "where", "?",   "play", "##ing"};
  int64_t id = 0;
  for (const char* t : tokens) vocab[t] = id++;
  TokenizerOptions options;
  options.do_lower_case = false;
  return Tokenizer(vocab, options);
}

using electra::test::contains;
using electra::test::run_electra;

}  // namespace

TEST_CASE("task registry lists the table tasks in order and resolves names", "[tasks]") {
  const auto names = task_names();
  const std::vector<std::string> table = {"nsmc", "naver-ner", "paws", "kornli", "korsts", "question-pair",
                                          "korquad", "hate-speech", "cola", "sst2", "mrpc", "stsb",
                                          "qqp", "mnli", "qnli", "rte"};
  REQUIRE(names.size() >= table.size());
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 16) == table);
  CHECK(find_task("question_pair").name() == "question-pair");
  CHECK(find_task("Hate_Speech").name() == "hate-speech");
  CHECK_THROWS_AS(find_task("sts"), std::invalid_argument);
  try {
    find_task("sts");
  } catch (const std::invalid_argument& e) {
    CHECK(contains(e.what(), "unknown task 'sts' (known: nsmc, naver-ner"));
  }
  CHECK_THROWS_AS(register_task(std::make_unique<SentenceTask>(SentenceTaskSpec{
                      "nsmc", "", HeadKind::sequence_classification, {"0"}, {}, {"accuracy"}, "accuracy",
                      {ColumnLayout{}}})),
                  std::invalid_argument);
  CHECK(parse_split("dev") == Split::dev);
  CHECK(parse_head_kind(to_string(HeadKind::span_extraction)) == HeadKind::span_extraction);
  CHECK_THROWS_AS(parse_split("valid"), std::invalid_argument);
}

TEST_CASE("every task declares consistent metadata and reads its shipped sample files", "[tasks]") {
  const std::map<std::string, std::string> main = {
      {"nsmc", "accuracy"}, {"naver-ner", "f1"},     {"paws", "accuracy"}, {"kornli", "accuracy"},
      {"korsts", "spearman"}, {"question-pair", "accuracy"}, {"korquad", "f1"}, {"hate-speech", "macro_f1"},
      {"cola", "mcc"},      {"sst2", "accuracy"},   {"mrpc", "accuracy"}, {"stsb", "spearman"},
      {"qqp", "accuracy"},  {"mnli", "accuracy"},   {"qnli", "accuracy"}, {"rte", "accuracy"}};
  for (const auto& name : task_names()) {
    INFO(name);
    const Task& t = find_task(name);
    if (main.count(name)) CHECK(t.main_metric() == main.at(name));
    const auto ms = t.metric_names();
    CHECK(std::find(ms.begin(), ms.end(), t.main_metric()) != ms.end());
    for (const auto& m : ms) CHECK_NOTHROW(metrics::check_metric_name(m));
    CHECK((t.head() == HeadKind::sequence_classification || t.head() == HeadKind::token_classification) ==
          !t.labels().empty());
    REQUIRE(t.files().count(Split::train) == 1);
    const fs::path dir = fixtures / (name == "mnli-mm" ? "mnli" : name);
    for (const auto& [split, files] : t.files()) {
      for (const auto& f : files) {
        INFO(f);
        REQUIRE(fs::exists(dir / f));
        const auto r = t.read(dir / f, {});
        CHECK(r.examples.size() >= 8);
        CHECK(r.examples.size() <= 20);
      }
    }
  }
}

TEST_CASE("sentence adapters read the published layouts and data traps", "[tasks]") {
  SECTION("nsmc: CRLF line ends and trailing empty lines") {
    const auto r = read("nsmc", fixtures / "nsmc/ratings_test.txt");
    REQUIRE(r.examples.size() == 8);
    CHECK(r.examples[0].id == "6270596");
    CHECK(r.examples[0].text_a == "음악이 너무 좋았다");
    CHECK(r.examples[0].label == "1");
    CHECK(r.examples[1].label == "0");
    CHECK(r.examples[7].text_a.find('\r') == std::string::npos);
    CHECK(r.examples[0].line == 2);
    CHECK(r.warnings.empty());
  }
  SECTION("paws: NS placeholder and empty rows are dropped by rule and counted") {
    const auto dev = read("paws", fixtures / "paws/dev_2k.tsv");
    CHECK(dev.examples.size() == 8);
    CHECK(dev.skipped_by_rule == 4);
    CHECK(dev.skipped_bad_rows == 0);
    REQUIRE(dev.warnings.size() == 1);
    CHECK(contains(dev.warnings[0], "dropped 4 row(s)"));
    CHECK(dev.examples[0].text_b == std::optional<std::string>("1990년에 그는 서울로 이사했다."));
    const auto test = read("paws", fixtures / "paws/test_2k.tsv");
    CHECK(test.examples.size() == 8);
    CHECK(test.skipped_by_rule == 1);
  }
  SECTION("kornli: a UTF-8 BOM before the header") {
    const auto r = read("kornli", fixtures / "kornli/xnli.test.ko.tsv");
    REQUIRE(r.examples.size() == 9);
    CHECK(r.examples[0].label == "contradiction");
    CHECK(r.examples[0].text_b == std::optional<std::string>("남자가 잠을 자고 있다."));
  }
  SECTION("korsts and stsb: raw 0-5 scores") {
    const auto ko = read("korsts", fixtures / "korsts/sts-train.tsv");
    REQUIRE(ko.examples.size() == 10);
    CHECK(ko.examples[1].score == Approx(3.8));
    CHECK(ko.examples[1].text_a == "한 남자가 큰 플루트를 연주하고 있다.");
    const auto en = read("stsb", fixtures / "stsb/dev.tsv");
    REQUIRE(en.examples.size() == 9);
    CHECK(en.examples[0].score == Approx(3.8));
    CHECK(en.examples[0].text_b == std::optional<std::string>("A man is playing a flute."));
    CHECK(en.examples[0].id == "0");
  }
  SECTION("hate speech: both layouts detected by header") {
    const auto koelectra = read("hate-speech", fixtures / "hate-speech/train.tsv");
    REQUIRE(koelectra.examples.size() == 10);
    CHECK(koelectra.examples[1].text_a == "이런 사람은 결혼하면 안 되는데");
    CHECK(koelectra.examples[1].label == "offensive");
    CHECK_FALSE(koelectra.examples[1].text_b);
    const auto koco = read("hate-speech", fixtures / "hate-speech/kocohub/dev.tsv");
    REQUIRE(koco.examples.size() == 6);
    CHECK(koco.examples[0].text_a == "(현재 호텔주인 심정) 아 난 날벼락 맞았네");
    CHECK(koco.examples[0].label == "hate");
    CHECK(koco.examples[1].text_a == "\"그 사람\"은 좀 이상해");
    CHECK(koco.examples[3].text_a == "탭\t들어간 댓글");
    CHECK(koco.examples[4].text_a == "여러 줄\n댓글입니다");
    CHECK(koco.examples[4].line == 6);
    CHECK(koco.examples[5].line == 8);
    const auto bad = temp_file("hate.tsv", "title\tcontent\tbias\tlabel\nx\ty\tnone\tnone\n");
    CHECK_THROWS_AS(read("hate-speech", bad), std::runtime_error);
  }
  SECTION("cola: no header, four columns") {
    const auto r = read("cola", fixtures / "cola/train.tsv");
    REQUIRE(r.examples.size() == 10);
    CHECK(r.examples[2].text_a == "They drank the pub.");
    CHECK(r.examples[2].label == "0");
    CHECK(r.examples[0].id == "train.tsv:1");
  }
  SECTION("mrpc: BOM, CRLF and the GLUE header") {
    const auto r = read("mrpc", fixtures / "mrpc/dev.tsv");
    REQUIRE(r.examples.size() == 8);
    CHECK(r.examples[0].label == "0");
    CHECK(r.examples[0].text_a.rfind("Yucaipa owned", 0) == 0);
    CHECK(r.examples[0].text_b->back() == '.');
  }
  SECTION("qqp: malformed rows are skipped and reported even without skip_bad_rows") {
    const auto r = read("qqp", fixtures / "qqp/train.tsv");
    CHECK(r.examples.size() == 10);
    CHECK(r.skipped_bad_rows == 2);
    REQUIRE(r.warnings.size() == 1);
    CHECK(contains(r.warnings[0], "skipped 2 bad row(s)"));
    CHECK(contains(r.warnings[0], "line 6"));
    CHECK(read("qqp", fixtures / "qqp/dev.tsv").skipped_bad_rows == 1);
  }
  SECTION("mnli: matched and mismatched dev files, label in the last column") {
    const auto train = read("mnli", fixtures / "mnli/train.tsv");
    CHECK(train.examples.size() == 10);
    CHECK(train.examples[8].label == "contradiction");
    const auto matched = read("mnli", fixtures / "mnli/dev_matched.tsv");
    REQUIRE(matched.examples.size() == 8);
    CHECK(matched.examples[0].id == "63735n");
    const auto mismatched = read("mnli-mm", fixtures / "mnli/dev_mismatched.tsv");
    REQUIRE(mismatched.examples.size() == 8);
    CHECK(mismatched.examples[0].text_b == std::optional<std::string>("One of our number will carry out your instructions minutely."));
    CHECK(find_task("mnli-mm").files().at(Split::dev) == std::vector<std::string>{"dev_mismatched.tsv"});
  }
  SECTION("qnli and rte: two-way NLI labels") {
    CHECK(read("qnli", fixtures / "qnli/dev.tsv").examples[1].label == "entailment");
    CHECK(read("rte", fixtures / "rte/train.tsv").examples[0].label == "not_entailment");
  }
}

TEST_CASE("an empty text is read as the empty text and counted, as the published readers read it", "[tasks]") {
  // NSMC's real train file has 5 such rows (line 25859 the first), its test file 3.
  const auto file = temp_file("nsmc_empty.txt", "id\tdocument\tlabel\n0\tfine\t0\n1\t\t1\n2\t  \t0\n3\tgood\t1\n");
  const auto r = read("nsmc", file);
  REQUIRE(r.examples.size() == 4);
  CHECK(r.examples[1].text_a.empty());
  CHECK(r.examples[1].label == "1");
  CHECK(r.empty_texts == 2);
  CHECK(r.skipped_bad_rows == 0);
  REQUIRE(r.warnings.size() == 1);
  CHECK(contains(r.warnings[0], "kept 2 empty text(s)"));
  CHECK(contains(r.warnings[0], "line 3: 'document'"));
  SECTION("pairs: an empty second sentence too") {
    const auto pairs = temp_file("qp_empty.tsv", "question1\tquestion2\tis_duplicate\n\xea\xb0\x80\t\t1\n");
    const auto p = read("question-pair", pairs);
    REQUIRE(p.examples.size() == 1);
    CHECK(p.examples[0].text_b == std::optional<std::string>(""));
    CHECK(p.empty_texts == 1);
  }
}

TEST_CASE("bad rows name file, line and value unless skip_bad_rows", "[tasks]") {
  const std::string header = "id\tdocument\tlabel\n";
  struct Case {
    std::string name, row, expected;
  };
  const std::vector<Case> cases = {{"columns", "1\tonly two\n", "expected 3 tab-separated columns, found 2"},
                                   {"label", "1\tgood movie\t2\n", "unknown label '2'"},
                                   {"utf8", "1\tbad \xff byte\t1\n", "invalid UTF-8 byte 0xff"}};
  for (const auto& c : cases) {
    INFO(c.name);
    const auto file = temp_file("nsmc_" + c.name + ".txt", header + "0\tfine\t0\n" + c.row + "2\tfine too\t1\n");
    try {
      read("nsmc", file);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), file.string() + ":3: "));
      CHECK(contains(e.what(), c.expected));
    }
    const auto r = read("nsmc", file, /*skip=*/true);
    CHECK(r.examples.size() == 2);
    CHECK(r.skipped_bad_rows == 1);
    REQUIRE(r.warnings.size() == 1);
    CHECK(contains(r.warnings[0], "line 3"));
  }
  SECTION("a score outside 0-5") {
    const auto file = temp_file("sts.tsv", "genre\tfilename\tyear\tid\tscore\tsentence1\tsentence2\ng\tf\ty\t1\t7.5\ta\tb\n");
    CHECK_THROWS_AS(read("korsts", file), std::runtime_error);
    CHECK(read("korsts", file, true).skipped_bad_rows == 1);
  }
  SECTION("ner: tag count and unknown tags") {
    const auto file = temp_file("ner.tsv", "a b\tO PER-B\na b\tO\nc\tB-PER\n");
    CHECK_THROWS_AS(read("naver-ner", file), std::runtime_error);
    const auto r = read("naver-ner", file, true);
    CHECK(r.examples.size() == 1);
    CHECK(r.skipped_bad_rows == 2);
  }
  SECTION("json: invalid JSON, and bad entries") {
    const auto broken = temp_file("broken.json", "{\"data\": [\n{\"paragraphs\": ]}");
    try {
      read("korquad", broken);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), broken.string() + ": invalid JSON"));
      CHECK(contains(e.what(), "line 2"));
    }
    const auto bad = temp_file(
        "bad_entry.json",
        R"({"data": [{"paragraphs": [{"context": "가나다 라마", "qas": [)"
        R"({"id": "q1", "question": "무엇?", "answers": [{"text": "라마", "answer_start": 4}]},)"
        R"({"id": "q2", "question": "무엇?", "answers": [{"text": "", "answer_start": 1}]}]}]}]})");
    try {
      read("korquad", bad);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), "data[0].paragraphs[0].qas[1] (id 'q2')"));
    }
    const auto r = read("korquad", bad, true);
    REQUIRE(r.examples.size() == 1);
    CHECK(r.examples[0].answers[0].start == 4);
    CHECK(r.skipped_bad_rows == 1);
  }
}

TEST_CASE("naver ner featurisation labels first sub-tokens and counts truncated words", "[tasks]") {
  const Tokenizer tok = tiny_tokenizer();
  const Task& ner = find_task("naver-ner");
  Example ex;
  ex.id = "s1";
  ex.words = {"the", "cats", "\xE2\x80\x8B", "playing"};
  ex.tags = {"O", "ANM-B", "O", "EVT-B"};
  const auto f = ner.featurize({ex}, tok, {})[0];
  // [CLS] the cat ##s [UNK] play ##ing [SEP]
  CHECK(f.input_ids == std::vector<int64_t>{2, 5, 6, 13, 1, 16, 17, 3});
  const auto labels = ner.labels();
  const auto idx = [&](const std::string& t) { return std::find(labels.begin(), labels.end(), t) - labels.begin(); };
  CHECK(f.token_labels == std::vector<int64_t>{-100, 0, idx("ANM-B"), -100, 0, idx("EVT-B"), -100, -100});
  CHECK(f.token_type_ids == std::vector<int64_t>(8, 0));
  CHECK(f.words_truncated == 0);

  FeatureOptions small;
  small.max_seq_length = 5;  // room for 3 tokens: the cat ##s
  const auto cut = ner.featurize({ex}, tok, small)[0];
  CHECK(cut.input_ids == std::vector<int64_t>{2, 5, 6, 13, 3});
  CHECK(cut.words_truncated == 2);

  // Decode: argmax per first sub-token; the truncated words get no tag.
  FeatureOutput out;
  const size_t c = labels.size();
  out.logits.assign(cut.input_ids.size() * c, 0.f);
  out.logits[1 * c + static_cast<size_t>(idx("PER-B"))] = 5.f;
  out.logits[2 * c + static_cast<size_t>(idx("ANM-B"))] = 5.f;
  const auto pred = ner.decode({ex}, {cut}, {out}, {});
  CHECK(pred == std::vector<std::string>{"PER-B ANM-B"});
  const auto m = ner.score({ex}, pred);
  CHECK(m.at("precision") == Approx(50.0));  // ANM right, PER wrong; the 2 cut words are out of gold too
  CHECK(m.at("recall") == Approx(100.0));
  CHECK(m.at("main") == m.at("f1"));
  CHECK_THROWS_AS(ner.score({ex}, {"O O O O O"}), std::runtime_error);
  CHECK_THROWS_AS(ner.score({ex}, {"O B-PER"}), std::runtime_error);
}

TEST_CASE("sentence featurisation, decoding and scoring", "[tasks]") {
  const Tokenizer tok = tiny_tokenizer();
  const Task& rte = find_task("rte");
  Example pair;
  pair.text_a = "the cat sat";
  pair.text_b = "the dog";
  pair.label = "not_entailment";
  const auto f = rte.featurize({pair}, tok, {})[0];
  CHECK(f.input_ids == std::vector<int64_t>{2, 5, 6, 7, 3, 5, 11, 3});
  CHECK(f.token_type_ids == std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(f.label == 1);

  FeatureOptions small;
  small.max_seq_length = 6;
  CHECK(rte.featurize({pair}, tok, small)[0].input_ids.size() == 6);

  FeatureOutput out;
  out.logits = {0.5f, -1.f};
  CHECK(rte.decode({pair}, {f}, {out}, {}) == std::vector<std::string>{"entailment"});
  out.logits = {0.5f};
  CHECK_THROWS_AS(rte.decode({pair}, {f}, {out}, {}), std::invalid_argument);

  const Task& stsb = find_task("stsb");
  pair.score = 3.5;
  const auto rf = stsb.featurize({pair}, tok, {})[0];
  CHECK(rf.score == Approx(3.5));
  out.logits = {2.25f};
  CHECK(stsb.decode({pair}, {rf}, {out}, {}) == std::vector<std::string>{"2.25"});

  const auto swapped = with_swapped_pairs({pair});
  REQUIRE(swapped.size() == 2);
  CHECK(swapped[1].text_a == "the dog");
  CHECK(swapped[1].text_b == std::optional<std::string>("the cat sat"));

  SECTION("scores") {
    const auto gold = read("hate-speech", fixtures / "hate-speech/train.tsv").examples;
    std::vector<std::string> pred;
    for (const auto& ex : gold) pred.push_back(ex.label);
    pred[1] = "none";  // one offensive comment missed
    const auto m = find_task("hate-speech").score(gold, pred);
    // none: P 5/6 R 1, offensive: P 1 R 2/3, hate: 1.
    const double f_none = 2 * (5.0 / 6) / (5.0 / 6 + 1), f_off = 2 * (2.0 / 3) / (1 + 2.0 / 3);
    CHECK(m.at("macro_f1") == Approx(100 * (f_none + f_off + 1) / 3));
    CHECK(m.at("accuracy") == Approx(90.0));
    CHECK(m.at("main") == m.at("macro_f1"));
    pred[0] = "hateful";
    CHECK_THROWS_AS(find_task("hate-speech").score(gold, pred), std::runtime_error);
    pred.pop_back();
    CHECK_THROWS_AS(find_task("hate-speech").score(gold, pred), std::invalid_argument);
  }
}

TEST_CASE("korquad answer offsets matter for training only, checked as Hugging Face's SQuAD processor does", "[tasks]") {
  const nlohmann::json doc = {
      {"version", "KorQuAD_v1.0_dev"},
      {"data",
       {{{"title", "t"},
         {"paragraphs",
          {{{"context", "the cat sat on the mat ."},
            {"qas",
             {{{"id", "right"}, {"question", "where?"}, {"answers", {{{"text", "the mat"}, {"answer_start", 15}}}}},
              {{"id", "elsewhere"}, {"question", "who?"}, {"answers", {{{"text", "the mat"}, {"answer_start", 4}}}}},
              {{"id", "inside_word"}, {"question", "what?"}, {"answers", {{{"text", "at"}, {"answer_start", 4}}}}},
              {{"id", "outside"}, {"question", "when?"}, {"answers", {{{"text", "cat"}, {"answer_start", 99}}}}},
              {{"id", "second_answer_off"},
               {"question", "which?"},
               {"answers", {{{"text", "mat"}, {"answer_start", 19}}, {{"text", "mat"}, {"answer_start", 0}}}}}}}}}}}}}};
  const auto file = temp_file("korquad_offsets.json", doc.dump());
  const Task& qa = find_task("korquad");
  ReadOptions eval;
  const auto dev = qa.read(file, eval);
  CHECK(dev.examples.size() == 5);  // scoring reads answer texts only
  CHECK(dev.skipped_by_rule == 0);
  ReadOptions train;
  train.training = true;
  const auto tr = qa.read(file, train);
  std::vector<std::string> ids;
  for (const auto& ex : tr.examples) ids.push_back(ex.id);
  // "at" at 4 lies inside the word "cat": HF keeps it (the covered words contain it); the others are not there.
  CHECK(ids == std::vector<std::string>{"right", "inside_word", "second_answer_off"});
  CHECK(tr.skipped_by_rule == 2);
  REQUIRE_FALSE(tr.warnings.empty());
  CHECK(contains(tr.warnings[0], "dropped 2 row(s)"));
  CHECK(contains(tr.warnings[0], "id 'elsewhere'"));
  SECTION("an evaluation file needs no answer_start; a training file does") {
    const nlohmann::json bare = {
        {"data",
         {{{"paragraphs",
            {{{"context", "a b c"}, {"qas", {{{"id", "q"}, {"question", "?"}, {"answers", {{{"text", "b"}}}}}}}}}}}}}};
    const auto bare_file = temp_file("korquad_bare.json", bare.dump());
    const auto r = qa.read(bare_file, eval);
    REQUIRE(r.examples.size() == 1);
    CHECK(r.examples[0].answers[0].text == "b");
    CHECK(r.examples[0].answers[0].start == -1);
    try {
      qa.read(bare_file, train);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(contains(e.what(), "answer_start"));
      CHECK(contains(e.what(), bare_file.string()));
    }
  }
}

TEST_CASE("korquad windows map answer characters to tokens and decode the best span", "[tasks]") {
  const Tokenizer tok = tiny_tokenizer();
  const Task& qa = find_task("korquad");
  Example ex;
  ex.id = "q1";
  ex.text_a = "where sat the cat ?";  // 5 tokens
  // ü is [UNK] (0-1); the(2-5) cat sat on the(17-20) mat(21-24) . the dog run ##s .  = 13 tokens
  ex.text_b = "\xC3\xBC the cat sat on the mat . the dog runs .";
  ex.answers = {{"the mat", 17}};
  FeatureOptions o;
  o.max_seq_length = 12;  // 4 context tokens per window
  o.doc_stride = 2;
  o.max_query_length = 64;
  const auto features = qa.featurize({ex}, tok, o);
  REQUIRE(features.size() == 6);  // windows start at tokens 0, 2, 4, 6, 8, 10
  for (const auto& f : features) {
    CHECK(f.input_ids.size() <= 12);
    CHECK(f.input_ids[0] == 2);
    CHECK(f.input_ids[6] == 3);
    CHECK(f.token_type_ids[6] == 0);
    CHECK(f.token_type_ids[7] == 1);
    CHECK(f.offsets[3] == std::pair<int64_t, int64_t>{-1, -1});
    CHECK(f.offsets.back() == std::pair<int64_t, int64_t>{-1, -1});
  }
  CHECK(features[2].start_position == 8);  // tokens 4..7 in positions 7..10; the answer is tokens 5..6
  CHECK(features[2].end_position == 9);
  CHECK(features[2].offsets[8] == std::pair<int64_t, int64_t>{17, 20});
  for (size_t i : {0, 1, 3, 4, 5}) {
    CHECK(features[i].start_position == 0);
    CHECK(features[i].end_position == 0);
  }
  CHECK(features[5].input_ids.size() == 11);  // the last window holds 3 tokens

  std::vector<FeatureOutput> outputs(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    outputs[i].start_logits.assign(features[i].input_ids.size(), 0.f);
    outputs[i].end_logits.assign(features[i].input_ids.size(), 0.f);
  }
  outputs[0].start_logits[1] = 50.f;  // a query token: never an answer
  outputs[0].end_logits[1] = 50.f;
  outputs[1].start_logits[10] = 20.f;  // token 5 in window 1, but window 2 gives it more context
  outputs[2].start_logits[8] = 5.f;  // "the mat"
  outputs[2].end_logits[9] = 5.f;
  outputs[2].end_logits[7] = 30.f;  // end before start: skipped
  DecodeOptions d;
  auto pred = qa.decode({ex}, features, outputs, d);
  CHECK(pred == std::vector<std::string>{"the mat"});
  outputs[3].start_logits[8] = 6.f;  // token 7 ("."), which has the most context in window 3
  outputs[3].end_logits[10] = 6.f;   // ... through token 9 ("dog"): 3 tokens
  CHECK(qa.decode({ex}, features, outputs, d) == std::vector<std::string>{". the dog"});
  d.max_answer_length = 2;
  CHECK(qa.decode({ex}, features, outputs, d) == std::vector<std::string>{"the mat"});

  // Scoring with the official KorQuAD rules, a missing prediction scores 0.
  const auto m = qa.score({ex}, {"the mat."});
  CHECK(m.at("exact_match") == Approx(100.0));
  const auto* korquad = dynamic_cast<const QaTask*>(&qa);
  REQUIRE(korquad);
  CHECK(korquad->score({ex}, std::vector<std::optional<std::string>>{std::nullopt}).at("f1") == 0.0);
}

TEST_CASE("korquad sample files keep code point answer offsets", "[tasks]") {
  const auto dev = read("korquad", fixtures / "korquad/KorQuAD_v1.0_dev.json");
  REQUIRE(dev.examples.size() == 8);
  const auto& ex = dev.examples[4];
  CHECK(ex.id == "6548850-0-0005");
  CHECK(ex.answers[0].text == "《난중일기》");
  CHECK(ex.answers[0].start == 98);
  const auto squad = read("squad", fixtures / "squad/dev-v1.1.json");
  CHECK(squad.examples[1].answers.size() == 2);
}

TEST_CASE("electra tasks lists every task", "[tasks][cli]") {
  const auto tasks = run_electra("tasks");
  CHECK(tasks.status == 0);
  for (const auto& name : task_names()) CHECK(contains(tasks.out, name + "\n"));
  CHECK(contains(tasks.out, "labels: none offensive hate"));
  CHECK(contains(tasks.out, "dev: xnli.dev.ko.tsv"));
  const auto listed = nlohmann::json::parse(run_electra("tasks --json").out);
  CHECK(listed.size() == task_names().size());
  CHECK(listed[6]["head"] == "span_extraction");
}

TEST_CASE("electra score scores prediction files like the official scripts", "[tasks][cli]") {
  SECTION("classification") {
    // 12 rows alternating 1, 0: predict all "1" -> 6 right.
    std::string lines;
    for (int i = 0; i < 12; ++i) lines += "1\n";
    const auto pred = temp_file("nsmc_pred.txt", lines);
    const auto gold = (fixtures / "nsmc/ratings_train.txt").string();
    const auto r = run_electra(fmt::format("score --task nsmc --gold '{}' --predictions '{}'", gold, pred.string()));
    CHECK(r.status == 0);
    const auto m = nlohmann::json::parse(r.out);
    CHECK(m["accuracy"].get<double>() == Approx(50.0));
    CHECK(m["main"].get<double>() == Approx(50.0));
    const auto short_pred = temp_file("nsmc_short.txt", "1\n0\n");
    const auto bad = run_electra(fmt::format("score --task nsmc --gold '{}' --predictions '{}'", gold, short_pred.string()));
    CHECK(bad.status != 0);
    CHECK(contains(bad.err, "2 predictions, but"));
    // An unknown predicted label names the predictions file and its line.
    const auto unknown_pred = temp_file("nsmc_unknown.txt", lines.substr(0, 6) + "positive\n" + lines.substr(8));
    const auto unknown = run_electra(
        fmt::format("score --task nsmc --gold '{}' --predictions '{}'", gold, unknown_pred.string()));
    CHECK(unknown.status == 1);
    CHECK(contains(unknown.err, unknown_pred.string() + ": prediction on line 4: unknown label 'positive' (known: 0, 1)"));
    // A bad gold row points at the flag score has, not at the YAML key of finetune.
    const auto bad_gold = temp_file("nsmc_bad_gold.txt", "id\tdocument\tlabel\n1\tgood\t7\n");
    const auto hint = run_electra(
        fmt::format("score --task nsmc --gold '{}' --predictions '{}'", bad_gold.string(), pred.string()));
    CHECK(hint.status == 1);
    CHECK(contains(hint.err, bad_gold.string() + ":2: unknown label '7'"));
    CHECK(contains(hint.err, "(use --skip-bad-rows to skip and count such rows)"));
  }
  SECTION("regression and NER") {
    const auto pred = temp_file("sts_pred.txt", "5\n3.8\n3.7\n2.6\n4.25\n4.25\n0.5\n1.6\n2\n4.75\n");
    const auto r = run_electra(fmt::format("score --task korsts --gold '{}' --predictions '{}'",
                                          (fixtures / "korsts/sts-train.tsv").string(), pred.string()));
    REQUIRE(r.status == 0);
    const auto m = nlohmann::json::parse(r.out);
    CHECK(m["spearman"].get<double>() > 99.0);
    CHECK(m["main"] == m["spearman"]);
    CHECK(m.contains("pearson"));
    // Constant predictions: both correlations undefined, written as JSON null, with a warning naming metric and file
    // (scipy returns nan and warns ConstantInputWarning).
    const auto flat = temp_file("sts_flat.txt", "2.5\n2.5\n2.5\n2.5\n2.5\n2.5\n2.5\n2.5\n2.5\n2.5\n");
    const auto c = run_electra(fmt::format("score --task korsts --gold '{}' --predictions '{}' --bootstrap 50",
                                           (fixtures / "korsts/sts-train.tsv").string(), flat.string()));
    INFO(c.output);
    REQUIRE(c.status == 0);
    const auto cm = nlohmann::json::parse(c.out);
    CHECK(cm["spearman"].is_null());
    CHECK(cm["pearson"].is_null());
    CHECK(cm["main"].is_null());
    CHECK(cm["bootstrap"]["intervals"]["spearman"] == nlohmann::json::array({nullptr, nullptr}));
    CHECK(contains(c.err, "warning: spearman of " + flat.string() +
                              " is undefined (NaN): the predictions or the gold scores are constant"));
    CHECK(contains(c.err, "warning: pearson of " + flat.string() + " is undefined (NaN)"));

    std::string tags;
    for (const auto& ex : read("naver-ner", fixtures / "naver-ner/test.tsv").examples)
      tags += fmt::format("{}\n", fmt::join(ex.tags, " "));
    const auto ner_pred = temp_file("ner_pred.txt", tags);
    const auto n = run_electra(fmt::format("score --task naver_ner --gold '{}' --predictions '{}'",
                                          (fixtures / "naver-ner/test.tsv").string(), ner_pred.string()));
    REQUIRE(n.status == 0);
    CHECK(nlohmann::json::parse(n.out)["f1"].get<double>() == Approx(100.0));
  }
  SECTION("question answering with a missing id") {
    const auto dev = read("korquad", fixtures / "korquad/KorQuAD_v1.0_dev.json").examples;
    nlohmann::json pred = nlohmann::json::object();
    for (size_t i = 1; i < dev.size(); ++i) pred[dev[i].id] = dev[i].answers[0].text;
    pred[dev[4].id] = "난중일기";  // the brackets are normalised away
    const auto file = temp_file("qa_pred.json", pred.dump());
    const auto r = run_electra(fmt::format("score --task korquad --gold '{}' --predictions '{}'",
                                          (fixtures / "korquad/KorQuAD_v1.0_dev.json").string(), file.string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.err, dev[0].id));
    const auto m = nlohmann::json::parse(r.out);
    CHECK(m["exact_match"].get<double>() == Approx(100.0 * 7 / 8));
    CHECK(m["f1"].get<double>() == Approx(100.0 * 7 / 8));
    const auto empty = temp_file("empty_korquad.json", R"({"version": "KorQuAD_v1.0_dev", "data": []})");
    const auto e = run_electra(
        fmt::format("score --task korquad --gold '{}' --predictions '{}'", empty.string(), file.string()));
    CHECK(e.status == 1);
    CHECK(contains(e.err, empty.string() + ": the \"data\" array is empty (no articles to read)"));
  }
}

TEST_CASE("prediction files are read line by line or as a QA object, with file and line in errors", "[tasks]") {
  const auto error_of = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(parse_prediction_lines("1\r\n0\n\n\n", "p.txt") == std::vector<std::string>{"1", "0"});
  CHECK(parse_prediction_lines("a\tb\n", "p.txt") == std::vector<std::string>{"a\tb"});
  CHECK(contains(error_of([] { parse_prediction_lines("1\n\xff\n", "p.txt"); }), "p.txt:2: invalid UTF-8"));

  std::vector<Example> examples(2);
  examples[0].id = "q1";
  examples[1].id = "q2";
  std::vector<std::string> warnings;
  const auto answers = parse_qa_predictions(R"({"q1": "x", "q9": "y"})", "p.json", examples, warnings);
  REQUIRE(answers.size() == 2);
  CHECK(answers[0] == std::optional<std::string>("x"));
  CHECK_FALSE(answers[1]);
  CHECK(warnings.size() == 3);  // q2 missing, the count, one unknown id
  for (const std::string bad : {"[1]", "{", ""}) {
    CHECK(contains(error_of([&] { parse_qa_predictions(bad, "p.json", examples, warnings); }),
                   "p.json: expected a JSON object"));
  }
  CHECK(contains(error_of([&] { parse_qa_predictions(R"({"q1": 3})", "p.json", examples, warnings); }),
                 "the prediction for id q1 is not a string"));
}
