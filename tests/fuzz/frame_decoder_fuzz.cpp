// Bytes from the network: the frame decoder, envelope decoding and message validation.
// The first byte picks a chunk size so splits at every boundary get exercised.
#include <cstdint>
#include <string_view>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  fleetscale::FrameDecoder decoder(64 * 1024);
  for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
    decoder.feed(input.substr(offset, chunk));
    while (true) {
      auto frame = decoder.next();
      if (!frame || !frame->has_value()) break;
      auto envelope = fleetscale::decodeEnvelope(**frame);
      if (!envelope) continue;
      if (envelope->has_hello()) (void)fleetscale::validateHello(envelope->hello());
      if (envelope->has_batch()) (void)fleetscale::validateBatch(envelope->batch());
      (void)fleetscale::envelopeKind(*envelope);
    }
    if (decoder.failed()) break;
  }
  return 0;
}
