// `nlc serve`: an HTTP front to the public API for vision services (README, "Vision
// services"). cpp-httplib parses HTTP; requests run on its connection threads, and the
// coding work of each takes one of `threads` workers, each with its own Classifier and
// Decoder (they are not thread-safe). When all are busy a request waits in a queue of at
// most `queue`; beyond that it gets 503 at once, so load cannot pile up without bound. Every
// error a client can cause is a 4xx with a JSON body that names the problem.
#include "cli/serve.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/json.h"
#include "cli/npy.h"
#include "nlc/classify.h"
#include "nlc/image.h"

namespace nlc_cli {
namespace {

using Clock = std::chrono::steady_clock;

void json_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content("{\"error\": " + json_string(message) + "}\n", "application/json");
}

// One worker's coding objects.
struct Engine {
  std::unique_ptr<nlc::Classifier> classifier;
  std::unique_ptr<nlc::Decoder> decoder;
};

// The workers: acquire() waits for a free engine, or returns null at once when `max_waiting`
// requests are already waiting.
class EnginePool {
 public:
  EnginePool(std::vector<std::unique_ptr<Engine>> engines, size_t max_waiting)
      : engines_(std::move(engines)), max_waiting_(max_waiting) {
    for (auto& e : engines_) free_.push_back(e.get());
  }
  Engine* acquire() {
    std::unique_lock<std::mutex> l(m_);
    if (free_.empty() && waiting_ >= max_waiting_) return nullptr;
    ++waiting_;
    cv_.wait(l, [&] { return !free_.empty(); });
    --waiting_;
    Engine* e = free_.back();
    free_.pop_back();
    return e;
  }
  void release(Engine* e) {
    {
      std::lock_guard<std::mutex> l(m_);
      free_.push_back(e);
    }
    cv_.notify_one();
  }
  size_t waiting() {
    std::lock_guard<std::mutex> l(m_);
    return waiting_;
  }
  size_t busy() {
    std::lock_guard<std::mutex> l(m_);
    return engines_.size() - free_.size();
  }

 private:
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<Engine*> free_;
  size_t waiting_ = 0, max_waiting_;
  std::mutex m_;
  std::condition_variable cv_;
};

// Request counts by endpoint and status, and latency percentiles over each endpoint's last
// 4096 requests.
class Metrics {
 public:
  void record(const std::string& endpoint, int status, double ms) {
    std::lock_guard<std::mutex> l(m_);
    ++counts_[{endpoint, status}];
    auto& w = latencies_[endpoint];
    w.push_back(ms);
    if (w.size() > 4096) w.pop_front();
  }
  std::string text(size_t busy, size_t waiting) {
    std::lock_guard<std::mutex> l(m_);
    std::string o = "# TYPE nlc_requests_total counter\n";
    char b[256];
    for (const auto& [k, n] : counts_) {
      std::snprintf(b, sizeof b, "nlc_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", k.first.c_str(), k.second,
                    static_cast<unsigned long long>(n));
      o += b;
    }
    o += "# TYPE nlc_request_latency_ms summary\n";
    for (const auto& [e, w] : latencies_) {
      std::vector<double> v(w.begin(), w.end());
      std::sort(v.begin(), v.end());
      for (double q : {0.5, 0.9, 0.99}) {
        const double x = v.empty() ? 0 : v[std::min(v.size() - 1, size_t(q * double(v.size())))];
        std::snprintf(b, sizeof b, "nlc_request_latency_ms{endpoint=\"%s\",quantile=\"%g\"} %.3f\n", e.c_str(), q, x);
        o += b;
      }
      std::snprintf(b, sizeof b, "nlc_request_latency_ms_count{endpoint=\"%s\"} %zu\n", e.c_str(), v.size());
      o += b;
    }
    std::snprintf(b, sizeof b, "# TYPE nlc_workers_busy gauge\nnlc_workers_busy %zu\n# TYPE nlc_queue_waiting gauge\n"
                  "nlc_queue_waiting %zu\n", busy, waiting);
    return o + b;
  }

 private:
  std::mutex m_;
  std::map<std::pair<std::string, int>, unsigned long long> counts_;
  std::map<std::string, std::deque<double>> latencies_;
};

thread_local Clock::time_point t_request_start;

std::pair<std::string, int> host_port(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("--listen must be HOST:PORT");
  const std::string port = listen.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 0 || p > 65535) throw std::invalid_argument("--listen port must be 0 .. 65535");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, int(p)};
}

}  // namespace

int serve(const ServeOptions& o) {
  const auto [host, port] = host_port(o.listen);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = o.threads > 0 ? o.threads : cores;
  // Each request's kernels share the cores with the other workers'.
  nlc::set_threads(std::max(1, cores / workers));
  const std::string classifier_path = o.classifier.empty() ? nlc::default_classifier_path() : o.classifier;
  const std::string model_path = o.model.empty() ? nlc::default_model_path() : o.model;
  std::vector<std::unique_ptr<Engine>> engines;
  for (int i = 0; i < workers; ++i) {
    auto e = std::make_unique<Engine>();
    e->classifier = std::make_unique<nlc::Classifier>(classifier_path, model_path);
    e->classifier->set_limits(o.limits);
    e->decoder = std::make_unique<nlc::Decoder>(model_path);
    e->decoder->set_limits(o.limits);
    engines.push_back(std::move(e));
  }
  const std::string classifier_id = engines.front()->classifier->identity();
  EnginePool pool(std::move(engines), size_t(std::max(0, o.queue)));
  Metrics metrics;

  // SIGTERM and SIGINT go to one thread that stops the server (which then drains); blocked
  // before any other thread starts, so that none of them receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is that request's problem only

  httplib::Server svr;
  const size_t connections = size_t(std::max(1, o.connections));
  svr.new_task_queue = [connections] { return new httplib::ThreadPool(connections); };
  svr.set_payload_max_length(o.max_body);
  svr.set_read_timeout(10);
  svr.set_write_timeout(30);
  svr.set_keep_alive_max_count(1000);

  svr.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (!o.token.empty() && req.path != "/healthz" && req.get_header_value("Authorization") != "Bearer " + o.token) {
      res.set_header("WWW-Authenticate", "Bearer");
      json_error(res, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) {
      json_error(res, 404, "no endpoint " + req.path + " (POST /v1/classify, /v1/decode, /v1/latent; GET /healthz, /metrics)");
    } else if (res.status == 413 && req.get_header_value("Content-Type") == "application/x-www-form-urlencoded") {
      // cpp-httplib parses form bodies itself and caps them at 8 KiB (curl --data-binary
      // sends that type unless told otherwise).
      json_error(res, 413, "a form-encoded body is limited to 8 KiB: send the stream as application/octet-stream "
                           "(curl: -H 'Content-Type: application/octet-stream')");
    } else if (res.status == 413) {
      json_error(res, 413, "request body is larger than the server's limit (--max-body)");
    } else {
      json_error(res, res.status, res.status == 400 ? "malformed HTTP request" : "request refused");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    json_error(res, 500, what);
  });
  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    static const char* known[] = {"/v1/classify", "/v1/decode", "/v1/latent", "/healthz", "/metrics"};
    std::string endpoint = "other";
    for (const char* k : known)
      if (req.path == k) endpoint = k;
    metrics.record(endpoint, res.status,
                   std::chrono::duration<double, std::milli>(Clock::now() - t_request_start).count());
  });

  // The coding endpoints: a worker for the stream in the body; errors by kind.
  auto coding = [&](auto&& work) {
    return [&, work](const httplib::Request& req, httplib::Response& res) {
      if (req.body.empty()) return json_error(res, 400, "empty body: POST a .nlc stream");
      Engine* e = pool.acquire();
      if (!e) {
        res.set_header("Retry-After", "1");
        return json_error(res, 503, "busy: every worker is coding and the queue is full; retry later");
      }
      struct Release {
        EnginePool& p;
        Engine* e;
        ~Release() { p.release(e); }
      } release{pool, e};
      const auto* data = reinterpret_cast<const uint8_t*>(req.body.data());
      try {
        work(*e, data, req.body.size(), req, res);
      } catch (const nlc::LimitError& x) {
        json_error(res, 422, std::string("stream exceeds this server's limits: ") + x.what());
      } catch (const nlc::StreamError& x) {
        const std::string m = x.what();
        json_error(res, m.find("(wrong model)") != std::string::npos ? 422 : 400, "invalid stream: " + m);
      } catch (const std::invalid_argument& x) {
        json_error(res, 400, x.what());
      }
    };
  };
  svr.Post("/v1/classify", coding([](Engine& e, const uint8_t* d, size_t n, const httplib::Request& req,
                                     httplib::Response& res) {
    int top = 5;
    if (req.has_param("top")) {
      const std::string t = req.get_param_value("top");
      char* end = nullptr;
      const long k = std::strtol(t.c_str(), &end, 10);
      if (t.empty() || *end || k < 1 || k > 1000) throw std::invalid_argument("top must be a whole number from 1 to 1000");
      top = int(k);
    }
    const nlc::Classification r = e.classifier->classify(d, n, top);
    std::string j = "{\"top\": [";
    char b[64];
    for (size_t i = 0; i < r.top.size(); ++i) {
      std::snprintf(b, sizeof b, "%.6f}", r.top[i].probability);
      j += std::string(i ? ", " : "") + "{\"class\": " + json_string(r.top[i].id) + ", \"label\": " +
           json_string(r.top[i].name) + ", \"probability\": " + b;
    }
    std::snprintf(b, sizeof b, "], \"decode_ms\": %.3f, \"infer_ms\": %.3f}\n", r.decode_ms, r.infer_ms);
    res.set_content(j + b, "application/json");
  }));
  svr.Post("/v1/decode", coding([](Engine& e, const uint8_t* d, size_t n, const httplib::Request&, httplib::Response& res) {
    const std::vector<uint8_t> png = nlc::encode_png(e.decoder->decode(d, n));
    res.set_content(reinterpret_cast<const char*>(png.data()), png.size(), "image/png");
  }));
  svr.Post("/v1/latent", coding([](Engine& e, const uint8_t* d, size_t n, const httplib::Request&, httplib::Response& res) {
    const std::vector<uint8_t> b = npy(e.decoder->decode_latent(d, n));
    res.set_content(reinterpret_cast<const char*>(b.data()), b.size(), "application/octet-stream");
  }));
  for (const char* p : {"/v1/classify", "/v1/decode", "/v1/latent"})
    svr.Get(p, [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", "POST");
      json_error(res, 405, req.path + " takes POST with a .nlc stream as the body");
    });
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\": \"ok\"}\n", "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.text(pool.busy(), pool.waiting()), "text/plain; version=0.0.4");
  });

  int bound = port;
  if (port == 0) {
    bound = svr.bind_to_any_port(host);
    if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":0");
  } else if (!svr.bind_to_port(host, port)) {
    throw std::runtime_error("cannot listen on " + o.listen + " (in use, or not an address of this machine)");
  }
  std::thread([&svr, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "nlc serve: %s, finishing the requests in progress\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    svr.stop();
  }).detach();
  std::fprintf(stderr, "nlc serve: listening on http://%s:%d (%d workers, classifier sha256:%s)\n",
               host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(), bound, workers,
               classifier_id.substr(0, 16).c_str());
  std::fflush(stderr);
  svr.listen_after_bind();
  std::fprintf(stderr, "nlc serve: stopped\n");
  return 0;
}

}  // namespace nlc_cli
