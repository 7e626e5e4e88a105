// `electra tokenize`: JSON lines of {"text", "text_pair"} in, one encoding (or {"error"}) per line out.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace electra::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string input;   // empty: stdin
  std::string output;  // empty: stdout
  int64_t max_length = 0;  // 0: the model's model_max_length
  std::string truncation = "longest_first";
  std::string padding = "none";
};

using OrderedJson = nlohmann::ordered_json;

// Far above any ELECTRA/BERT position limit, low enough that --padding max_length stays within memory.
constexpr int64_t kMaxTokenizeLength = 65536;

OrderedJson encoding_json(const Encoding& e) {
  OrderedJson offsets = OrderedJson::array();
  for (const auto& [begin, end] : e.offsets) offsets.push_back({begin, end});
  return OrderedJson{{"tokens", e.tokens},
                     {"input_ids", e.input_ids},
                     {"token_type_ids", e.token_type_ids},
                     {"attention_mask", e.attention_mask},
                     {"offsets", std::move(offsets)}};
}

// Encodes one input line; throws with a message that does not yet name the line.
Encoding encode_line(const Tokenizer& tokenizer, const std::string& line, const EncodeOptions& options) {
  nlohmann::json input;
  try {
    input = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("invalid JSON: {}", e.what()));
  }
  if (!input.is_object()) throw std::runtime_error("expected a JSON object with \"text\" (and \"text_pair\")");
  if (!input.contains("text") || !input["text"].is_string()) {
    throw std::runtime_error("key \"text\" must be present and a string");
  }
  std::optional<std::string> pair;
  if (input.contains("text_pair") && !input["text_pair"].is_null()) {
    if (!input["text_pair"].is_string()) throw std::runtime_error("key \"text_pair\" must be a string or null");
    pair = input["text_pair"].get<std::string>();
  }
  EncodeOptions single = options;
  if (single.padding == Padding::longest) single.padding = Padding::none;  // applied over the whole input later
  return tokenizer.encode(input["text"].get<std::string>(),
                          pair ? std::optional<std::string_view>(*pair) : std::nullopt, single);
}

void run_tokenize(const TokenizeArgs& args) {
  const Tokenizer tokenizer = Tokenizer::from_dir(args.model);
  EncodeOptions options;
  options.max_length = args.max_length > 0 ? args.max_length : tokenizer.options().model_max_length;
  options.truncation = parse_truncation(args.truncation);
  options.padding = parse_padding(args.padding);
  if (options.padding == Padding::max_length && options.max_length <= 0) {
    throw std::invalid_argument("--padding max_length needs --max-length (the model sets no maximum length)");
  }

  std::ifstream input_file;
  if (!args.input.empty()) {
    input_file.open(args.input, std::ios::binary);
    if (!input_file) throw std::runtime_error(fmt::format("cannot read {}", args.input));
  }
  std::istream& in = args.input.empty() ? std::cin : input_file;
  std::ofstream output_file;
  if (!args.output.empty()) {
    output_file.open(args.output, std::ios::binary | std::ios::trunc);
    if (!output_file) throw std::runtime_error(fmt::format("cannot write {}", args.output));
  }
  std::ostream& out = args.output.empty() ? std::cout : output_file;

  auto write = [&](const OrderedJson& value) {
    out << value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << '\n';
  };
  // Padding to the longest needs every encoding first; otherwise lines stream through.
  const bool hold = options.padding == Padding::longest;
  std::vector<std::optional<Encoding>> held;
  std::vector<std::string> held_errors;
  size_t lines = 0, failed = 0;
  std::string first_error;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    std::optional<Encoding> encoding;
    std::string error;
    try {
      encoding = encode_line(tokenizer, line, options);
    } catch (const std::exception& e) {  // a bad line is reported in its place; the others still run
      error = fmt::format("line {}: {}", lines, e.what());
      if (failed++ == 0) first_error = error;
    }
    if (hold) {
      held.push_back(std::move(encoding));
      held_errors.push_back(std::move(error));
    } else {
      write(encoding ? encoding_json(*encoding) : OrderedJson{{"error", error}});
    }
  }
  if (in.bad()) throw std::runtime_error(fmt::format("error reading {}", args.input.empty() ? "stdin" : args.input));
  if (hold) {
    int64_t longest = 0;
    for (const auto& e : held) {
      if (e) longest = std::max<int64_t>(longest, static_cast<int64_t>(e->input_ids.size()));
    }
    for (size_t i = 0; i < held.size(); ++i) {
      if (held[i]) tokenizer.pad(*held[i], longest);
      write(held[i] ? encoding_json(*held[i]) : OrderedJson{{"error", held_errors[i]}});
    }
  }
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", args.output.empty() ? "stdout" : args.output));
  if (failed > 0) {
    throw std::runtime_error(fmt::format("{} of {} lines could not be encoded (first: {})", failed, lines,
                                         first_error));
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Encode JSON lines {\"text\", \"text_pair\"} with a model's WordPiece "
                                             "tokenizer, one JSON encoding per line");
  cmd->add_option("--model", args->model, "Directory with vocab.txt (and optional tokenizer_config.json)")
      ->required();
  cmd->add_option("--input", args->input, "JSON lines file (default: stdin)");
  cmd->add_option("--output", args->output, "Output file (default: stdout)");
  cmd->add_option("--max-length", args->max_length,
                  "Maximum tokens including specials, 1..65536 (default: the model's model_max_length)")
      ->check(CLI::Range(int64_t{1}, kMaxTokenizeLength))
      ->check(CLI::PositiveNumber);
  cmd->add_option("--truncation", args->truncation, "longest_first | only_first | only_second | none")
      ->capture_default_str();
  cmd->add_option("--padding", args->padding, "max_length | longest | none")->capture_default_str();
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace electra::cli
