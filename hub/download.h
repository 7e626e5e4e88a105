// How electra downloads, for models and task data alike: the settings both share (offline, retries, timeouts,
// progress, messages) and the HTTP requests they make from them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "hub/http.h"

namespace electra {

struct DownloadOptions {
  bool offline = false;         // download nothing: a missing file is an error naming it
  int max_retries = 5;          // resumed attempts after a connection drops mid-file
  int retry_delay_ms = 1000;    // first wait between those attempts (doubles each time)
  long connect_timeout_s = 10;
  long stall_timeout_s = 60;    // give up on a transfer that sends nothing for this long
  bool progress = true;         // progress bars on stderr when it is a terminal
  bool quiet = false;           // no "downloading ..." lines on stderr

  // Prints `line` on stderr unless quiet.
  void say(const std::string& line) const;
};

// A request for `url` with the options' timeouts.
http::Request download_request(const DownloadOptions& options, const std::string& url);
// A resumable GET of `url` into `incomplete`, following redirects, with the options' timeouts, retries and progress.
http::DownloadSpec download_spec(const DownloadOptions& options, const std::string& url,
                                 const std::filesystem::path& incomplete, const std::string& label);

// Moves a finished temporary file over its destination; throws std::runtime_error naming both (and removes `tmp`)
// when it cannot.
void commit_file(const std::filesystem::path& tmp, const std::filesystem::path& dest);

// "512 B", "1.5 kB", "2.3 MB", "1.25 GB".
std::string human_size(int64_t bytes);

}  // namespace electra
