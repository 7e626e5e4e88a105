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
#include "tokenizer/text_lines.h"
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
  const TextInput input = read_text_input(parse_json_line(line));
  EncodeOptions single = options;
  if (single.padding == Padding::longest) single.padding = Padding::none;  // applied over the whole input later
  return tokenizer.encode(input.text, input.pair(), single);
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

  JsonLinesReader in(args.input);
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
  for (std::string line; in.next(line);) {
    std::optional<Encoding> encoding;
    std::string error;
    try {
      encoding = encode_line(tokenizer, line, options);
    } catch (const std::exception& e) {  // a bad line is reported in its place; the others still run
      error = in.fail(e.what());
    }
    if (hold) {
      held.push_back(std::move(encoding));
      held_errors.push_back(std::move(error));
    } else {
      write(encoding ? encoding_json(*encoding) : OrderedJson{{"error", error}});
    }
  }
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
  in.finish("encoded");
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Encode JSON lines {\"text\", \"text_pair\"} with a model's WordPiece "
                                             "tokenizer, one JSON encoding per line");
  cmd->add_option("--model", args->model, "Directory with vocab.txt (and optional tokenizer_config.json)")
      ->required();
  cmd->add_option("--input", args->input, "JSON lines file (default, or -: standard input)");
  cmd->add_option("--output", args->output, "Output file (default: stdout)");
  cmd->add_option("--max-length", args->max_length,
                  "Maximum tokens including specials, 1..65536 (default: the model's model_max_length)")
      ->check(within(int64_t{1}, kMaxTokenizeLength));
  cmd->add_option("--truncation", args->truncation, "longest_first | only_first | only_second | none")
      ->capture_default_str();
  cmd->add_option("--padding", args->padding, "max_length | longest | none")->capture_default_str();
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace electra::cli
