// The built-in tasks: the seed's Korean table (KoELECTRA's data), its GLUE table, MNLI mismatched and SQuAD 1.1.
// File names, columns and label lists follow the published datasets (docs: tasks.md in the shared material).
#include <memory>
#include <mutex>

#include "tasks/ner_task.h"
#include "tasks/qa_task.h"
#include "tasks/sentence_task.h"

namespace electra {
namespace {

ColumnLayout header_layout(std::string name, std::string text_a, std::string text_b, std::string label,
                           std::string id = "") {
  ColumnLayout l;
  l.name = std::move(name);
  l.text_a = std::move(text_a);
  l.text_b = std::move(text_b);
  l.label = std::move(label);
  l.id = std::move(id);
  return l;
}

SentenceTaskSpec classification(std::string name, std::string description, std::vector<std::string> labels,
                                std::map<Split, std::vector<std::string>> files, ColumnLayout layout,
                                std::vector<std::string> metrics = {"accuracy"}, std::string main = "accuracy") {
  SentenceTaskSpec s;
  s.name = std::move(name);
  s.description = std::move(description);
  s.labels = std::move(labels);
  s.files = std::move(files);
  s.layouts = {std::move(layout)};
  s.metrics = std::move(metrics);
  s.main_metric = std::move(main);
  return s;
}

SentenceTaskSpec regression(std::string name, std::string description, std::map<Split, std::vector<std::string>> files,
                            ColumnLayout layout) {
  SentenceTaskSpec s = classification(std::move(name), std::move(description), {}, std::move(files),
                                      std::move(layout), {"pearson", "spearman"}, "spearman");
  s.head = HeadKind::regression;
  return s;
}

void add(SentenceTaskSpec spec) { register_task(std::make_unique<SentenceTask>(std::move(spec))); }

void register_all() {
  const std::vector<std::string> binary = {"0", "1"};
  const std::vector<std::string> nli = {"contradiction", "entailment", "neutral"};
  const std::vector<std::string> two_way_nli = {"entailment", "not_entailment"};

  // Korean (KoELECTRA finetune/data).
  add(classification("nsmc",
                     "Naver sentiment movie corpus: review -> 0 negative / 1 positive (no dev split; an empty review "
                     "is read as the empty text and counted, as KoELECTRA reads it: 5 train and 3 test rows)",
                     binary,
                     {{Split::train, {"ratings_train.txt"}}, {Split::test, {"ratings_test.txt"}}},
                     header_layout("e9t/nsmc", "document", "", "label", "id")));

  NerTaskSpec ner;
  ner.name = "naver-ner";
  ner.description = "Naver NER (KoBERT-NER split): word-level tags, suffix style PER-B / PER-I (no dev split)";
  ner.labels = {"O"};
  for (const char* type : {"PER", "FLD", "AFW", "ORG", "LOC", "CVL", "DAT", "TIM", "NUM", "EVT", "ANM", "PLT", "MAT", "TRM"}) {
    ner.labels.push_back(std::string(type) + "-B");
    ner.labels.push_back(std::string(type) + "-I");
  }
  ner.files = {{Split::train, {"train.tsv"}}, {Split::test, {"test.tsv"}}};
  register_task(std::make_unique<NerTask>(std::move(ner)));

  auto paws = classification("paws", "PAWS-X Korean paraphrase pairs -> 0 / 1 (NS placeholder and empty rows dropped)",
                             binary,
                             {{Split::train, {"translated_train.tsv"}}, {Split::dev, {"dev_2k.tsv"}},
                              {Split::test, {"test_2k.tsv"}}},
                             header_layout("PAWS-X", "sentence1", "sentence2", "label", "id"));
  paws.drop_placeholder_pairs = true;
  add(std::move(paws));

  add(classification("kornli", "KorNLI (MNLI train, XNLI dev/test) -> contradiction / entailment / neutral", nli,
                     {{Split::train, {"multinli.train.ko.tsv"}}, {Split::dev, {"xnli.dev.ko.tsv"}},
                      {Split::test, {"xnli.test.ko.tsv"}}},
                     header_layout("KorNLUDatasets", "sentence1", "sentence2", "gold_label")));

  add(regression("korsts", "KorSTS sentence similarity, raw 0-5 score",
                 {{Split::train, {"sts-train.tsv"}}, {Split::dev, {"sts-dev.tsv"}}, {Split::test, {"sts-test.tsv"}}},
                 header_layout("KorNLUDatasets", "sentence1", "sentence2", "score")));

  add(classification("question-pair", "Korean question pairs -> 0 same question / 1 different", binary,
                     {{Split::train, {"train.tsv"}}, {Split::dev, {"dev.tsv"}}, {Split::test, {"test.tsv"}}},
                     header_layout("songys/Question_pair", "question1", "question2", "is_duplicate")));

  register_task(std::make_unique<QaTask>(QaTaskSpec{
      "korquad",
      "KorQuAD 1.0 extractive QA (official character-level EM / F1; answer_start matters for training only, where "
      "a question whose answer text is not at it is skipped and counted, as Hugging Face's SQuAD processor does)",
      {{Split::train, {"KorQuAD_v1.0_train.json"}}, {Split::dev, {"KorQuAD_v1.0_dev.json"}}},
      metrics::QaRules::korquad}));

  auto hate = classification("hate-speech", "Korean hate speech (comment -> none / offensive / hate), macro F1",
                             {"none", "offensive", "hate"},
                             {{Split::train, {"train.tsv"}}, {Split::dev, {"val.tsv"}}},
                             header_layout("KoELECTRA", "comment", "", "hate"), {"macro_f1", "accuracy"}, "macro_f1");
  ColumnLayout kocohub = header_layout("kocohub", "comments", "", "hate");
  kocohub.quoted = true;
  hate.layouts.push_back(std::move(kocohub));
  add(std::move(hate));

  // GLUE (English). Test files carry no labels and are not listed.
  const std::map<Split, std::vector<std::string>> glue = {{Split::train, {"train.tsv"}}, {Split::dev, {"dev.tsv"}}};
  ColumnLayout cola_layout = header_layout("GLUE (no header)", "sentence", "", "label");
  cola_layout.has_header = false;
  cola_layout.columns = {"source", "label", "original_label", "sentence"};
  add(classification("cola", "CoLA acceptability -> 0 / 1, Matthews correlation", binary, glue, cola_layout,
                     {"mcc", "accuracy"}, "mcc"));
  add(classification("sst2", "SST-2 sentiment -> 0 / 1", binary, glue, header_layout("GLUE", "sentence", "", "label")));
  add(classification("mrpc", "MRPC paraphrase -> 0 / 1", binary, glue,
                     header_layout("GLUE", "#1 String", "#2 String", "Quality")));
  add(regression("stsb", "STS-B sentence similarity, raw 0-5 score", glue,
                 header_layout("GLUE", "sentence1", "sentence2", "score", "index")));
  auto qqp = classification("qqp", "QQP duplicate questions -> 0 / 1 (malformed rows skipped and counted)", binary, glue,
                            header_layout("GLUE", "question1", "question2", "is_duplicate", "id"));
  qqp.skip_malformed_rows = true;
  add(std::move(qqp));
  add(classification("mnli", "MNLI -> contradiction / entailment / neutral (dev = matched; see mnli-mm)", nli,
                     {{Split::train, {"train.tsv"}}, {Split::dev, {"dev_matched.tsv"}}},
                     header_layout("GLUE", "sentence1", "sentence2", "gold_label", "pairID")));
  add(classification("qnli", "QNLI -> entailment / not_entailment", two_way_nli, glue,
                     header_layout("GLUE", "question", "sentence", "label", "index")));
  add(classification("rte", "RTE -> entailment / not_entailment", two_way_nli, glue,
                     header_layout("GLUE", "sentence1", "sentence2", "label", "index")));

  // Not table columns: MNLI's mismatched dev set, and SQuAD 1.1 (ELECTRA README).
  add(classification("mnli-mm", "MNLI scored on dev_mismatched (same training data as mnli)", nli,
                     {{Split::train, {"train.tsv"}}, {Split::dev, {"dev_mismatched.tsv"}}},
                     header_layout("GLUE", "sentence1", "sentence2", "gold_label", "pairID")));
  register_task(std::make_unique<QaTask>(QaTaskSpec{
      "squad", "SQuAD 1.1 extractive QA (official EM / word F1)",
      {{Split::train, {"train-v1.1.json"}}, {Split::dev, {"dev-v1.1.json"}}}, metrics::QaRules::squad}));
}

}  // namespace

void register_builtin_tasks() {
  static std::once_flag once;
  std::call_once(once, register_all);
}

}  // namespace electra
