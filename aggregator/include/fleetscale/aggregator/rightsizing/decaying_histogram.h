// A histogram whose samples lose half their weight every `halfLife`: the CPU distribution the
// recommender takes percentiles of (docs/rightsizing.md). Buckets grow exponentially, as in
// Kubernetes' VPA: bucket i starts at kFirstBucketCores * (kBucketGrowth^i - 1) /
// (kBucketGrowth - 1), so each bucket is 5% wider than the one below it and a percentile is
// within about 5% of the truth at any scale, from a sidecar's millicores to 1000 cores.
//
// Decay without touching every bucket on every sample: a sample at time t is added with weight
// w * 2^((t - reference) / halfLife), which grows with time instead of the old weights shrinking;
// percentiles only compare weights, so they are the same. When the factor gets large the
// reference moves forward and every bucket is scaled down once.
//
// Only the buckets between the lowest and highest one ever hit are stored (a vector that grows
// when a value falls outside them, and is trimmed when the low or high ones decay to nothing),
// so a container whose usage stays within a factor of 2 holds about 15 buckets. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::aggregator::rightsizing {

// The bucket scheme: part of the stored state's format (a change needs a new format version).
inline constexpr double kFirstBucketCores = 0.001;
inline constexpr double kBucketGrowth = 1.05;
inline constexpr double kMaxBucketCores = 1000.0;

class DecayingHistogram {
 public:
  explicit DecayingHistogram(std::chrono::seconds halfLife = std::chrono::hours(24));

  // Adds `value` (cores; clamped to [0, kMaxBucketCores]) with `weight` (> 0) at `unixSeconds`.
  // Samples may come in any order; a sample much older than the reference weighs next to nothing.
  void add(double value, double weight, double unixSeconds);
  // The value below which `share` (0..1) of the weight lies: the upper end of the bucket where the
  // running sum reaches it, as VPA answers. 0 when empty.
  double percentile(double share) const;
  bool empty() const { return totalWeight_ <= 0; }
  // The total weight, relative to the reference time (for tests and the stored form).
  double totalWeight() const { return totalWeight_; }
  std::size_t storedBuckets() const { return weights_.size(); }

  static int bucketOf(double value);
  static double bucketStart(int bucket);
  static int bucketCount();

  // The stored form (docs/rightsizing.md, "Stored state"): appends to `out`; read() takes it
  // back from the front of `in` (advancing it) and returns false when it is malformed.
  void write(std::string& out) const;
  bool read(std::string_view& in);

  // Approximate bytes held, for the per-container figure in docs.
  std::size_t bytesHeld() const { return sizeof(*this) + weights_.capacity() * sizeof(double); }

 private:
  void rebase(double unixSeconds);
  void trim();

  double halfLifeSeconds_;
  double referenceUnixSeconds_ = 0;  // a sample at this time weighs its own weight
  int firstBucket_ = 0;              // weights_[i] is bucket firstBucket_ + i
  std::vector<double> weights_;
  double totalWeight_ = 0;
  // 2^((factorTime_ - factorReference_) / halfLife), kept for the next sample of the same tick.
  double factorTime_ = -1;
  double factorReference_ = -1;
  double factor_ = 1;
};

// Little-endian fixed-width fields for the stored forms: appended to a string, read from the
// front of a view (false when it is too short).
void putU32(std::string& out, std::uint32_t value);
void putI64(std::string& out, std::int64_t value);
void putF64(std::string& out, double value);
bool getU32(std::string_view& in, std::uint32_t& value);
bool getI64(std::string_view& in, std::int64_t& value);
bool getF64(std::string_view& in, double& value);

}  // namespace fleetscale::aggregator::rightsizing
