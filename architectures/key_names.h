// How Hugging Face spells the parameter keys of the ElectraFor* classes: the encoder's "electra." prefix and the
// prefix/suffix tests the architectures' key handling shares.
#pragma once

#include <string>

namespace electra {

inline const std::string kEncoderPrefix = "electra.";

inline bool has_prefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
inline bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace electra
