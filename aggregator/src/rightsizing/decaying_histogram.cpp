#include "fleetscale/aggregator/rightsizing/decaying_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace fleetscale::aggregator::rightsizing {

static_assert(std::endian::native == std::endian::little,
              "the stored forms are written as the machine holds them: little-endian");

namespace {
// The reference moves when a new sample would weigh 2^this: far from overflowing a double, and
// rare (every 40 half-lives: 40 days at VPA's 24 h).
constexpr double kMaxExponent = 40;
// Buckets at either end lighter than this share of the total are dropped when the reference moves.
constexpr double kNegligibleShare = 1e-9;

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}
template <typename T>
bool get(std::string_view& in, T& value) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}
}  // namespace

void putU32(std::string& out, std::uint32_t value) { put(out, value); }
void putI64(std::string& out, std::int64_t value) { put(out, value); }
void putF64(std::string& out, double value) { put(out, value); }
bool getU32(std::string_view& in, std::uint32_t& value) { return get(in, value); }
bool getI64(std::string_view& in, std::int64_t& value) { return get(in, value); }
bool getF64(std::string_view& in, double& value) { return get(in, value); }

DecayingHistogram::DecayingHistogram(std::chrono::seconds halfLife)
    : halfLifeSeconds_(static_cast<double>(std::max<std::int64_t>(1, halfLife.count()))) {}

namespace {
double computedStart(int bucket) {
  return kFirstBucketCores * (std::pow(kBucketGrowth, bucket) - 1) / (kBucketGrowth - 1);
}
int computedCount() {
  int count = 1;
  while (computedStart(count) <= kMaxBucketCores) ++count;
  return count;  // the last bucket holds kMaxBucketCores and everything above
}
// Every bucket's start and the one after the last: a sample's bucket costs one logarithm.
const std::vector<double>& starts() {
  static const std::vector<double> table = [] {
    std::vector<double> out;
    for (int bucket = 0; bucket <= computedCount(); ++bucket) out.push_back(computedStart(bucket));
    return out;
  }();
  return table;
}
const double kLogGrowth = std::log(kBucketGrowth);
}  // namespace

int DecayingHistogram::bucketCount() { return static_cast<int>(starts().size()) - 1; }

double DecayingHistogram::bucketStart(int bucket) {
  const auto& table = starts();
  return bucket >= 0 && bucket < static_cast<int>(table.size()) ? table[bucket]
                                                                : computedStart(bucket);
}

int DecayingHistogram::bucketOf(double value) {
  if (!(value > 0)) return 0;
  const int last = bucketCount() - 1;
  if (value >= kMaxBucketCores) return last;
  auto bucket =
      static_cast<int>(std::log1p(value * (kBucketGrowth - 1) / kFirstBucketCores) / kLogGrowth);
  bucket = std::clamp(bucket, 0, last);
  // The logarithm may land one off at a boundary: settle it against the starts themselves.
  const auto& table = starts();
  if (bucket > 0 && table[bucket] > value) --bucket;
  if (bucket < last && table[bucket + 1] <= value) ++bucket;
  return bucket;
}

void DecayingHistogram::rebase(double unixSeconds) {
  const double exponent = (unixSeconds - referenceUnixSeconds_) / halfLifeSeconds_;
  const double factor = std::exp2(-exponent);
  for (auto& weight : weights_) weight *= factor;
  totalWeight_ *= factor;
  referenceUnixSeconds_ = unixSeconds;
  trim();
}

void DecayingHistogram::trim() {
  const double negligible = totalWeight_ * kNegligibleShare;
  std::size_t low = 0;
  while (low < weights_.size() && weights_[low] <= negligible) ++low;
  std::size_t high = weights_.size();
  while (high > low && weights_[high - 1] <= negligible) --high;
  if (low == 0 && high == weights_.size()) return;
  weights_.erase(weights_.begin() + static_cast<std::ptrdiff_t>(high), weights_.end());
  weights_.erase(weights_.begin(), weights_.begin() + static_cast<std::ptrdiff_t>(low));
  firstBucket_ += static_cast<int>(low);
  if (weights_.empty()) {
    firstBucket_ = 0;
    totalWeight_ = 0;
  }
}

void DecayingHistogram::add(double value, double weight, double unixSeconds) {
  if (!(weight > 0) || std::isnan(value)) return;
  if (weights_.empty()) {
    referenceUnixSeconds_ = unixSeconds;
    totalWeight_ = 0;
  } else if ((unixSeconds - referenceUnixSeconds_) / halfLifeSeconds_ > kMaxExponent) {
    rebase(unixSeconds);
  }
  // Replicas of one tick share its time: one power per tick, not per sample.
  if (unixSeconds != factorTime_ || factorReference_ != referenceUnixSeconds_) {
    factorTime_ = unixSeconds;
    factorReference_ = referenceUnixSeconds_;
    factor_ = std::exp2((unixSeconds - referenceUnixSeconds_) / halfLifeSeconds_);
  }
  const double scaled = weight * factor_;
  const int bucket = bucketOf(value);
  if (weights_.empty()) {
    firstBucket_ = bucket;
    weights_.assign(1, 0.0);
  } else if (bucket < firstBucket_) {
    weights_.insert(weights_.begin(), static_cast<std::size_t>(firstBucket_ - bucket), 0.0);
    firstBucket_ = bucket;
  } else if (bucket >= firstBucket_ + static_cast<int>(weights_.size())) {
    weights_.resize(static_cast<std::size_t>(bucket - firstBucket_) + 1, 0.0);
  }
  weights_[static_cast<std::size_t>(bucket - firstBucket_)] += scaled;
  totalWeight_ += scaled;
}

double DecayingHistogram::percentile(double share) const {
  if (empty()) return 0;
  const double threshold = share * totalWeight_;
  double sum = 0;
  std::size_t i = 0;
  for (; i + 1 < weights_.size(); ++i) {
    sum += weights_[i];
    if (sum >= threshold) break;
  }
  const int bucket = firstBucket_ + static_cast<int>(i);
  // The last bucket has no upper end: its start is the answer there.
  return bucket + 1 < bucketCount() ? bucketStart(bucket + 1) : bucketStart(bucket);
}

// Reference time (f64 seconds), first bucket (u32), bucket count (u32), the largest weight (f64)
// and each bucket's weight relative to it as a float (u32 bits): 4 bytes a bucket.
void DecayingHistogram::write(std::string& out) const {
  putF64(out, referenceUnixSeconds_);
  putU32(out, static_cast<std::uint32_t>(firstBucket_));
  putU32(out, static_cast<std::uint32_t>(weights_.size()));
  const double largest = weights_.empty() ? 0 : *std::ranges::max_element(weights_);
  putF64(out, largest);
  for (const double weight : weights_) {
    const auto relative = static_cast<float>(largest > 0 ? weight / largest : 0);
    putU32(out, std::bit_cast<std::uint32_t>(relative));
  }
}

bool DecayingHistogram::read(std::string_view& in) {
  double reference = 0;
  double largest = 0;
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  if (!getF64(in, reference) || !getU32(in, first) || !getU32(in, count) || !getF64(in, largest)) {
    return false;
  }
  if (!std::isfinite(reference) || !std::isfinite(largest) || largest < 0 ||
      static_cast<std::uint64_t>(first) + count > static_cast<std::uint64_t>(bucketCount()) ||
      in.size() < std::size_t{count} * 4) {
    return false;
  }
  std::vector<double> weights(count);
  double total = 0;
  for (auto& weight : weights) {
    std::uint32_t bits = 0;
    getU32(in, bits);
    const auto relative = std::bit_cast<float>(bits);
    if (!std::isfinite(relative) || relative < 0) return false;
    weight = relative * largest;
    total += weight;
  }
  referenceUnixSeconds_ = reference;
  firstBucket_ = static_cast<int>(first);
  weights_ = std::move(weights);
  totalWeight_ = total;
  trim();
  return true;
}

}  // namespace fleetscale::aggregator::rightsizing
