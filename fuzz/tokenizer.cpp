// vocab.txt, tokenizer_config.json and the texts to encode, any bytes: Tokenizer::from_files, tokenize, encode
// (pairs, truncation, padding) and encode_batch. Input: a flag byte, then vocab.txt [@@@@ tokenizer_config.json]
// @@@@ text, where a tab in the text separates a pair. The flags choose max_length, truncation and padding.
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = electra::fuzz;
  const fz::Input in = fz::split_input(data, size, 3);
  if (in.parts.size() < 2) return 0;
  const auto vocab = fz::write_scratch("vocab.txt", in.parts[0]);
  std::optional<std::filesystem::path> config;
  if (in.parts.size() == 3) config = fz::write_scratch("tokenizer_config.json", in.parts[1]);
  const std::string_view text = in.parts.back();
  try {
    const auto tokenizer = electra::Tokenizer::from_files(vocab, config);
    electra::EncodeOptions options;
    options.max_length = in.flags & 0x1f;  // 0: no limit
    options.truncation = static_cast<electra::Truncation>((in.flags >> 5) & 3);
    options.padding = static_cast<electra::Padding>(((in.flags >> 7) & 1) + ((in.flags & 1) && (in.flags >> 7)));
    for (const auto& token : tokenizer.tokenize(text)) (void)tokenizer.id_to_token(token.id);
    const auto tab = text.find('\t');
    std::optional<std::string_view> pair;
    std::string_view first = text;
    if (tab != std::string_view::npos) {
      first = text.substr(0, tab);
      pair = text.substr(tab + 1);
    }
    try {
      const auto encoding = tokenizer.encode(first, pair, options);
      for (const auto id : encoding.input_ids) (void)tokenizer.id_to_token(id);
    } catch (const std::exception&) {
    }
    (void)tokenizer.encode_batch({{first, std::nullopt}, {first, pair}}, options);
  } catch (const std::exception&) {
  }
  return 0;
}
