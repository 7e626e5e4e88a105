// The hub client's reading of an HTTP answer: header lines as libcurl hands them over (add_header_line),
// Content-Range (content_range_start) and the file metadata of a HEAD (file_metadata). Input: a flag byte
// (which file was asked for), then the answer's header block; the status is the number after the first space.
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "hub/http.h"
#include "hub/hub_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = electra::fuzz;
  const fz::Input in = fz::split_input(data, size, 1);
  std::string_view block = in.parts[0];
  electra::http::Response response;
  bool first = true;
  while (!block.empty()) {
    const auto end = block.find('\n');
    const std::string_view line = block.substr(0, end == std::string_view::npos ? block.size() : end + 1);
    block.remove_prefix(line.size());
    if (first && line.rfind("HTTP/", 0) == 0) {
      const auto space = line.find(' ');
      response.status = space == std::string_view::npos ? 0 : std::strtol(std::string(line.substr(space)).c_str(), nullptr, 10);
    }
    first = false;
    electra::http::add_header_line(response, line);
  }
  (void)electra::http::content_range_start(response);
  const char* files[] = {"config.json", "model.safetensors", "vocab.txt", "pytorch_model.bin"};
  try {
    (void)electra::file_metadata(response, files[in.flags % 4], "https://hub.test/org/model/resolve/main/file",
                                 "https://hub.test");
  } catch (const std::exception&) {
  }
  return 0;
}
