// What the hub's answer to a HEAD on a file's resolve URL says about the file: the part of the hub client that
// reads what a server sent, apart from the requests, so that it can be tested and fuzzed without a network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hub/http.h"

namespace electra {

// What the hub said about one file at one revision.
struct FileMetadata {
  bool exists = false;
  std::string commit;
  std::string etag;  // sha256 for LFS files, the git object id otherwise
  std::optional<int64_t> size;
  std::string location;  // where to GET it (the LFS/CDN URL after a redirect)
};

// Reads the answer to a HEAD on `url`, the resolve URL of `file` (redirects within the hub already followed).
// A 404 saying the entry does not exist (X-Error-Code EntryNotFound, or no code for a file other than
// config.json) gives exists = false; any other status outside 2xx/3xx gives nullopt, for the caller to explain.
// Throws std::runtime_error naming `url` when the commit or ETag is missing or unusable as a path component,
// or the size is not a non-negative number. `endpoint` is only named in messages.
std::optional<FileMetadata> file_metadata(const http::Response& response, const std::string& file,
                                          const std::string& url, const std::string& endpoint);

// A name the server sent that becomes a path component (ETag, commit): throws std::runtime_error naming `what`,
// `value` and `url` for anything that could escape (empty, ".", "..", a separator, over 128 characters).
void check_path_component(const std::string& value, const char* what, const std::string& url);
// "https://host:port" of a URL.
std::string origin_of(const std::string& url);

}  // namespace electra
