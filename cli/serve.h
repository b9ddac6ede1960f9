// `nlc serve`: compressed-domain inference over HTTP (cpp-httplib). Only the public API.
#pragma once

#include <cstddef>
#include <string>

#include "nlc/codec.h"

namespace nlc_cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one (printed)
  std::string classifier;                 // "" : the bundled classifier
  std::string model;                      // "" : the default codec model
  int threads = 0;                        // requests decoded at once; 0: the cores
  size_t max_body = size_t(64) << 20;     // bytes; larger bodies get 413
  int queue = 64;                         // requests waiting for a worker; more get 503
  int connections = 64;                   // connections served at once (HTTP threads)
  std::string token;                      // "" : no authentication
  nlc::DecodeLimits limits;               // per request
};

// Runs until SIGTERM or SIGINT, then finishes the requests in progress and returns 0.
int serve(const ServeOptions& o);

}  // namespace nlc_cli
