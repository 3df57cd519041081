// SPDX-License-Identifier: MIT
// libFuzzer target: JSON weights files. parse_model_json must either return
// a valid document or throw a metnet::Error. A document that loads is then
// turned into a MetNet model (Huber or GaussianNll, as its loss name says)
// and asked for one prediction, so that every shape the loader accepts is
// also safe for the inference path. Any other exception, a crash or a
// sanitizer report is a bug.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

template <class L>
void predict_once(const metnet::ModelDocument& document) {
  const auto model = metnet::MetNet<L>::from_document(document);
  std::vector<float> event(model.event_columns().size(), 1.0F);
  (void)model.predict_event(event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const metnet::ModelDocument document = metnet::parse_model_json(text, "fuzz.json");
    if (document.loss.name == metnet::GaussianNll::name()) {
      predict_once<metnet::GaussianNll>(document);
    } else {
      predict_once<metnet::Huber>(document);
    }
  } catch (const metnet::Error&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}
