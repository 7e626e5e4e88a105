// Tokenizer files written beside a model: their length limits must not exceed the model's positions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace electra {

// The text to write for the tokenizer file `name` beside a model of `max_positions` positions, from `text` (the
// source file's text; "" when there is none): tokenizer_config.json gets model_max_length = min(its value,
// max_positions) (absent, null or transformers' 1e30 placeholder: max_positions), so that `AutoTokenizer(...,
// truncation=True)` never makes a sequence longer than the model takes; tokenizer.json's truncation.max_length (when
// truncation is set) at most max_positions. Other files, and files already within the bound, come back unchanged,
// byte for byte. Throws std::runtime_error naming `file` when the JSON is invalid or not an object.
std::string fit_tokenizer_file(const std::string& name, const std::string& text, int64_t max_positions,
                               const std::filesystem::path& file);

}  // namespace electra
