// SPDX-License-Identifier: MIT
#pragma once
// MetNet<Loss>: the METNet facade. It trains a multi-layer perceptron that
// regresses the true missing transverse momentum from the working points'
// MET, their terms and the pile-up and topology variables, and predicts it
// for new events.
//
//   metnet::MetNet<metnet::Huber> model;                   // default schema and network
//   model.fit(training_events);                            // an EventTable in GeV
//   auto met = model.predict(events);                      // px, py, pt, phi per event
//
// The loss fixes the network head. Huber and Huber+Sinkhorn regress
// (p_x, p_y). The Gaussian NLL regresses (p_x, sigma_x, p_y, sigma_y), and
// its predictions carry sigma and METNetSig. Asking a non-probabilistic
// model for sigma does not compile, because its prediction type has no such
// member.
//
// Preprocessing, as in the ATLAS METNet training (M. Leigh, METNetwork):
//  1. rotate every (x, y) pair of an event, targets included, by the angle
//     that puts the reference working point's MET (Tight by default) along
//     +x; an event with zero reference MET keeps angle 0;
//  2. standardise every input and target column with the training set's
//     mean and standard deviation (a constant column gets scale 1);
//  3. weight each training event by the reciprocal of the training set's
//     true-MET histogram, times an optional per-event weight column;
//  4. with FeatureSchema::residual, subtract the reference MET from the
//     targets, so the network learns a correction to the reference.
// Predictions undo steps 2 and 1. Everything is stored by document() and
// restored by from_document(); io/metnet_json.hpp writes it as JSON.
//
// Thread safety: predict and predict_event are const and may run from many
// threads at once on one model; fit is not.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/data/feature_schema.hpp"
#include "metnet/data/rotation.hpp"
#include "metnet/data/standardiser.hpp"
#include "metnet/data/truth_weights.hpp"
#include "metnet/inference/inference_mlp.hpp"
#include "metnet/loss/gaussian_nll.hpp"
#include "metnet/loss/loss_concept.hpp"
#include "metnet/model/checkpoint.hpp"
#include "metnet/model/detail/preprocessing.hpp"
#include "metnet/model/detail/shifted_loss.hpp"
#include "metnet/model/loss_settings.hpp"
#include "metnet/model/model_document.hpp"
#include "metnet/model/prediction.hpp"
#include "metnet/model/training_options.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

namespace metnet {

template <Loss L>
class MetNet {
 public:
  using LossType = L;
  static constexpr bool is_probabilistic = L::is_probabilistic;
  using BatchPrediction = BatchPredictionFor<is_probabilistic>;
  using EventPrediction = EventPredictionFor<is_probabilistic>;

  // Scratch memory for predict_event, one per thread.
  class Workspace {
   public:
    Workspace() = default;

   private:
    friend class MetNet;
    std::vector<float> input_;
    std::vector<float> output_;
    InferenceMlp<float>::Workspace network_;
  };

  // An untrained model. Throws ConfigError on an invalid schema (see
  // FeatureSchema::validate) or a schema whose targets are not one (x, y) pair.
  explicit MetNet(FeatureSchema schema = {}, NetworkShape shape = {}, L loss = {})
      : schema_(std::move(schema)), shape_(shape), loss_(std::move(loss)) {
    schema_.validate();
    if (schema_.targets.size() != 2) {
      throw ConfigError("MetNet: expected two targets, the (x, y) components of the true MET, found " +
                        std::to_string(schema_.targets.size()));
    }
    if (find_vector_pairs(schema_.targets).size() != 1) {
      throw ConfigError("MetNet: the targets '" + schema_.targets[0] + "', '" + schema_.targets[1] +
                        "' are not an _EX/_EY pair; name them like True_EX, True_EY");
    }
    const VectorPair target_pair = find_vector_pairs(schema_.targets).front();
    target_x_ = target_pair.x;
    target_y_ = target_pair.y;
    if (shape_.hidden_layers < 0 || (shape_.hidden_layers > 0 && shape_.width <= 0)) {
      throw ConfigError("MetNet: expected hidden_layers >= 0 and width > 0, found hidden_layers=" +
                        std::to_string(shape_.hidden_layers) + " width=" + std::to_string(shape_.width));
    }
  }

  // Rebuilds a trained model. Throws ConfigError if the document was trained
  // with another loss than L, and whatever ModelDocument::validate throws.
  static MetNet from_document(const ModelDocument& document) {
    document.validate();
    const MlpConfig& config = document.network.config;
    MetNet model(document.schema,
                 NetworkShape{config.hidden_layers, config.width, config.activation, config.layer_norm},
                 loss_from_settings<L>(document.loss));
    const Index expected_outputs = 2 * L::outputs_per_target;
    if (config.outputs != expected_outputs) {
      throw ShapeError("MetNet: the network has " + std::to_string(config.outputs) + " outputs, expected " +
                       std::to_string(expected_outputs) + " for the loss '" + std::string(L::name()) + "'");
    }
    model.layer_norm_eps_ = config.layer_norm_eps;
    model.use_sample_weights_ = document.use_sample_weights;
    model.sample_weight_settings_ = document.sample_weights;
    model.metadata_ = document.metadata;
    model.install(document.input_scaling, document.target_scaling, document.network);
    return model;
  }

  const FeatureSchema& schema() const noexcept { return schema_; }
  const NetworkShape& shape() const noexcept { return shape_; }
  const L& loss() const noexcept { return loss_; }
  bool is_trained() const noexcept { return static_cast<bool>(network_); }

  // Free-form provenance stored in the weights file (command, seed, ...).
  std::map<std::string, std::string>& metadata() noexcept { return metadata_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  // Everything a weights file stores. Throws ConfigError if untrained.
  ModelDocument document() const {
    require_trained("document");
    ModelDocument document;
    document.schema = schema_;
    document.input_scaling = input_scaling_;
    document.target_scaling = target_scaling_;
    document.network = weights_;
    document.loss = loss_settings(loss_);
    document.use_sample_weights = use_sample_weights_;
    document.sample_weights = sample_weight_settings_;
    document.metadata = metadata_;
    return document;
  }

  // Trains on `events` (GeV; must hold every schema input, the targets and,
  // with rotation, the reference MET components). A fraction of the events,
  // chosen from the seed, is held out for validation and early stopping. The
  // weights of the best validation epoch are kept, or those of the last epoch
  // when options.keep_best is false. For a fixed seed and
  // Eigen thread count (which matters only in builds with -fopenmp) the
  // result is bit-reproducible, and options.threads does not change it.
  // Throws FormatError on a missing column, NumericError on NaN or infinite
  // values (naming column and row) or a non-finite loss, ConfigError on bad
  // options or a table that looks like MeV.
  TrainingResult fit(const EventTable& events, const TrainingOptions& options = {}) {
    check_options(options);
    detail::check_energy_scale(events, schema_.inputs);

    // Preprocessing: rotation angles, rotated inputs and targets.
    const Vector<double> angles = detail::event_angles(events, schema_);
    Matrix<float> inputs = detail::gather_columns(events, schema_.inputs);
    Matrix<float> targets = detail::gather_columns(events, schema_.targets);
    Vector<double> true_met(events.rows());
    for (Index i = 0; i < events.rows(); ++i) {
      true_met(i) = std::hypot(static_cast<double>(targets(i, 0)), static_cast<double>(targets(i, 1)));
    }
    if (schema_.rotate) {
      rotate_pairs(inputs, schema_.inputs, angles, RotationDirection::to_reference);
      rotate_pairs(targets, schema_.targets, angles, RotationDirection::to_reference);
    }
    Matrix<double> reference;
    if (schema_.residual) {
      reference = detail::reference_in_frame(events, schema_, angles);
      targets.col(target_x_) = (targets.col(target_x_).template cast<double>() - reference.col(0)).template cast<float>();
      targets.col(target_y_) = (targets.col(target_y_).template cast<double>() - reference.col(1)).template cast<float>();
    }

    // Split into training and validation events.
    const Index n = events.rows();
    std::vector<Index> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), Index{0});
    Rng split_rng(options.seed, 0x5E1EC7ULL);
    detail::shuffle(order, split_rng);
    const auto validation_count = static_cast<Index>(std::floor(options.validation_fraction * static_cast<double>(n)));
    const Index training_count = n - validation_count;
    if (training_count < 2) {
      throw ConfigError("MetNet::fit: " + std::to_string(n) + " events leave " + std::to_string(training_count) +
                        " for training; give at least 2 (better thousands)");
    }
    if (options.validation_fraction > 0.0 && validation_count == 0) {
      throw ConfigError("MetNet::fit: " + std::to_string(n) + " events are too few for a validation fraction of " +
                        std::to_string(options.validation_fraction) + "; give more events or set it to 0");
    }
    const std::vector<Index> training_rows(order.begin(), order.begin() + training_count);
    const std::vector<Index> validation_rows(order.begin() + training_count, order.end());

    Matrix<float> train_x = detail::take_rows(inputs, training_rows);
    Matrix<float> train_y = detail::take_rows(targets, training_rows);
    Matrix<float> valid_x = detail::take_rows(inputs, validation_rows);
    Matrix<float> valid_y = detail::take_rows(targets, validation_rows);

    // Standardisation fitted on the training events only.
    input_scaling_ = Standardiser::fit(train_x, schema_.inputs);
    target_scaling_ = Standardiser::fit(train_y, schema_.targets);
    input_scaling_.transform(train_x);
    input_scaling_.transform(valid_x);
    target_scaling_.transform(train_y);
    target_scaling_.transform(valid_y);

    // With residual targets, a distribution term compares full MET: the
    // reference MET in standardised target units shifts outputs and targets.
    constexpr bool shift_loss = detail::has_distribution_term<L>::value;
    Matrix<float> train_offset;
    Matrix<float> valid_offset;
    if (shift_loss && schema_.residual) {
      Matrix<float> offset(n, 2);
      offset.col(target_x_) = (reference.col(0) / target_scaling_.scale(target_x_)).template cast<float>();
      offset.col(target_y_) = (reference.col(1) / target_scaling_.scale(target_y_)).template cast<float>();
      train_offset = detail::take_rows(offset, training_rows);
      valid_offset = detail::take_rows(offset, validation_rows);
    }

    // Sample weights from the training events' true MET.
    use_sample_weights_ = options.use_sample_weights;
    sample_weight_settings_ = options.sample_weights;
    Vector<float> event_weights = Vector<float>::Ones(n);
    if (!options.event_weight_column.empty()) {
      event_weights = events.column(options.event_weight_column);
      detail::check_event_weights(event_weights, options.event_weight_column);
    }
    Vector<float> train_w = detail::take_rows(event_weights, training_rows);
    Vector<float> valid_w = detail::take_rows(event_weights, validation_rows);
    if (use_sample_weights_) {
      const Vector<double> train_met = detail::take_rows(true_met, training_rows);
      const TruthWeights curve = TruthWeights::fit(train_met, sample_weight_settings_);
      train_w = train_w.cwiseProduct(curve.evaluate(train_met));
      valid_w = valid_w.cwiseProduct(curve.evaluate(detail::take_rows(true_met, validation_rows)));
    }
    detail::normalise_mean(train_w, "training");
    if (validation_count > 0) {
      detail::normalise_mean(valid_w, "validation");
    }

    // Network and optimiser.
    MlpConfig config;
    config.inputs = static_cast<Index>(schema_.inputs.size());
    config.outputs = 2 * L::outputs_per_target;
    config.hidden_layers = shape_.hidden_layers;
    config.width = shape_.width;
    config.activation = shape_.activation;
    config.layer_norm = shape_.layer_norm;
    config.layer_norm_eps = layer_norm_eps_;
    Rng init_rng(options.seed, 0x1417ULL);
    Mlp<float> mlp(config, init_rng);
    mlp.set_threads(options.threads);
    Adam<float> adam(mlp.parameters(), options.adam);

    TrainingResult result;
    result.training_events = training_count;
    result.validation_events = validation_count;
    MlpWeights<float> best = mlp.weights();
    double best_loss = std::numeric_limits<double>::infinity();
    int epochs_without_improvement = 0;
    int first_epoch = 0;
    Index first_batch = 0;
    double resumed_loss_sum = 0.0;

    // Continue from a checkpoint of the same data and settings.
    const std::uint64_t fingerprint = training_fingerprint(events, options, config);
    if (options.resume && !options.checkpoint_path.empty() && std::filesystem::exists(options.checkpoint_path)) {
      const TrainingCheckpoint checkpoint = read_checkpoint(options.checkpoint_path, mlp.weights(), adam.state());
      if (checkpoint.fingerprint != fingerprint) {
        throw ConfigError("MetNet::fit: the checkpoint '" + options.checkpoint_path.string() +
                          "' belongs to other training events or settings; delete it or train with the same "
                          "events, seed, batch size, learning rate, network and loss");
      }
      detail::assign_parameters(mlp, checkpoint.current);
      adam.load_state(checkpoint.adam);
      best = checkpoint.best;
      best_loss = checkpoint.best_loss;
      result.best_epoch = static_cast<int>(checkpoint.best_epoch);
      epochs_without_improvement = static_cast<int>(checkpoint.epochs_without_improvement);
      result.train_loss = checkpoint.train_loss;
      result.validation_loss = checkpoint.validation_loss;
      first_epoch = static_cast<int>(checkpoint.epoch);
      first_batch = checkpoint.next_batch;
      resumed_loss_sum = checkpoint.loss_sum;
    }
    const auto save_checkpoint = [&](int epoch, Index next_batch, double loss_sum) {
      if (options.checkpoint_path.empty()) {
        return;
      }
      TrainingCheckpoint checkpoint;
      checkpoint.fingerprint = fingerprint;
      checkpoint.epoch = epoch;
      checkpoint.next_batch = next_batch;
      checkpoint.loss_sum = loss_sum;
      checkpoint.best_loss = best_loss;
      checkpoint.best_epoch = result.best_epoch;
      checkpoint.epochs_without_improvement = epochs_without_improvement;
      checkpoint.train_loss = result.train_loss;
      checkpoint.validation_loss = result.validation_loss;
      checkpoint.current = mlp.weights();
      checkpoint.best = best;
      checkpoint.adam = adam.state();
      write_checkpoint(options.checkpoint_path, checkpoint);
    };

    // Epoch loop with early stopping on the validation loss.
    const Index batch = std::min(options.batch_size, training_count);
    const Index batches = training_count / batch;  // the remainder is dropped, reshuffled each epoch
    Matrix<float> batch_x(batch, config.inputs);
    Matrix<float> batch_y(batch, 2);
    Vector<float> batch_w(batch);
    Matrix<float> batch_offset(train_offset.size() > 0 ? batch : 0, 2);
    std::vector<Index> permutation(static_cast<std::size_t>(training_count));

    for (int epoch = first_epoch; epoch < options.epochs; ++epoch) {
      // The batch order of an epoch depends only on the seed and the epoch.
      std::iota(permutation.begin(), permutation.end(), Index{0});
      Rng epoch_rng(options.seed, 0xE90C0000ULL + static_cast<std::uint64_t>(epoch));
      detail::shuffle(permutation, epoch_rng);
      const auto start = std::chrono::steady_clock::now();
      const Index start_batch = epoch == first_epoch ? first_batch : 0;
      double loss_sum = epoch == first_epoch ? resumed_loss_sum : 0.0;

      for (Index b = start_batch; b < batches; ++b) {
        for (Index i = 0; i < batch; ++i) {
          const Index row = permutation[static_cast<std::size_t>(b * batch + i)];
          batch_x.row(i) = train_x.row(row);
          batch_y.row(i) = train_y.row(row);
          batch_w(i) = train_w(row);
          if (batch_offset.rows() > 0) {
            batch_offset.row(i) = train_offset.row(row);
          }
        }
        adam.zero_grad(mlp);
        float loss_value = 0.0f;
        try {
          if (batch_offset.rows() > 0) {
            loss_value = mlp.forward_backward(batch_x, batch_y, batch_w, detail::ShiftedLoss<L>(loss_, batch_offset));
          } else {
            loss_value = mlp.forward_backward(batch_x, batch_y, batch_w, loss_);
          }
          adam.step(mlp);
        } catch (const NumericError& error) {
          throw NumericError("MetNet::fit: epoch " + std::to_string(epoch) + ", batch " + std::to_string(b) + ": " +
                             error.what() + (options.checkpoint_path.empty()
                                                 ? std::string()
                                                 : "; the last good checkpoint is kept in '" +
                                                       options.checkpoint_path.string() + "'"));
        }
        loss_sum += loss_value;

        const bool report = options.progress && options.report_every > 0 && (b + 1) % options.report_every == 0;
        if (report) {
          options.progress(progress_report(epoch, options.epochs, b + 1, batches, loss_sum, start, batch));
        }
        if (options.checkpoint_every > 0 && (b + 1) % options.checkpoint_every == 0 && b + 1 < batches) {
          save_checkpoint(epoch, b + 1, loss_sum);
        }
      }

      const double train_loss = loss_sum / static_cast<double>(std::max<Index>(batches, 1));
      const MlpWeights<float> current = mlp.weights();
      const double validation_loss =
          validation_count > 0 ? evaluate_loss(current, valid_x, valid_y, valid_w, valid_offset, batch) : train_loss;
      if (!std::isfinite(validation_loss)) {
        throw NumericError("MetNet::fit: epoch " + std::to_string(epoch) + ": the validation loss is " +
                           std::to_string(validation_loss) + "; lower the learning rate (adam.lr)");
      }
      result.train_loss.push_back(train_loss);
      result.validation_loss.push_back(validation_loss);
      const bool improved = validation_loss < best_loss;
      if (improved) {
        best_loss = validation_loss;
        best = current;
        result.best_epoch = epoch;
        epochs_without_improvement = 0;
      } else {
        ++epochs_without_improvement;
      }

      if (options.progress) {
        TrainingProgress progress = progress_report(epoch, options.epochs, batches, batches, loss_sum, start, batch);
        progress.validation_loss = validation_loss;
        progress.epoch_end = true;
        progress.improved = improved;
        options.progress(progress);
      }
      const bool stop = options.patience > 0 && epochs_without_improvement >= options.patience;
      save_checkpoint(stop ? options.epochs : epoch + 1, 0, 0.0);
      if (stop) {
        result.stopped_early = epoch + 1 < options.epochs;
        break;
      }
    }

    install(input_scaling_, target_scaling_, options.keep_best ? best : mlp.weights());
    return result;
  }

  // Predicts every event of the table, optionally on several threads.
  // Throws FormatError on a missing column, NumericError on a NaN or
  // infinite input (naming column and row), ConfigError if untrained or if
  // the table looks like MeV.
  BatchPrediction predict(const EventTable& events, int threads = 1) const {
    require_trained("predict");
    detail::check_energy_scale(events, schema_.inputs);
    const Vector<double> angles = detail::event_angles(events, schema_);
    Matrix<float> inputs = detail::gather_columns(events, schema_.inputs);
    if (schema_.rotate) {
      rotate_pairs(inputs, schema_.inputs, angles, RotationDirection::to_reference);
    }
    input_scaling_.transform(inputs);

    Matrix<float> raw(inputs.rows(), network_->outputs());
    network_->predict_parallel(inputs, raw, threads);

    const Index n = events.rows();
    const Matrix<double> reference =
        schema_.residual ? detail::reference_in_frame(events, schema_, angles) : Matrix<double>::Zero(n, 2);
    BatchPrediction prediction;
    detail::resize_prediction(prediction, n);
    for (Index i = 0; i < n; ++i) {
      const EventPrediction event = finish(raw.row(i).data(), angles(i), reference(i, 0), reference(i, 1));
      detail::store_prediction(prediction, i, event);
    }
    return prediction;
  }

  // Columns that predict_event reads, in order: the schema inputs, then the
  // reference MET components if they are not inputs (needed for rotation).
  const std::vector<std::string>& event_columns() const noexcept { return event_columns_; }

  Workspace make_workspace() const {
    require_trained("make_workspace");
    Workspace workspace;
    workspace.input_.resize(schema_.inputs.size());
    workspace.output_.resize(static_cast<std::size_t>(network_->outputs()));
    workspace.network_ = network_->make_workspace();
    return workspace;
  }

  // Predicts one event from values in event_columns() order (GeV). Performs
  // no heap allocation with a workspace from make_workspace(). Throws
  // ShapeError on a wrong number of values, NumericError on a NaN or
  // infinite value.
  EventPrediction predict_event(std::span<const float> values, Workspace& workspace) const {
    require_trained("predict_event");
    if (values.size() != event_columns_.size()) {
      throw ShapeError("MetNet::predict_event: expected " + std::to_string(event_columns_.size()) +
                       " values in event_columns() order, found " + std::to_string(values.size()));
    }
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (!std::isfinite(values[k])) {
        throw NumericError("MetNet::predict_event: column '" + event_columns_[k] + "' is " +
                           std::to_string(values[k]) + ", expected a finite value");
      }
    }
    double angle = 0.0;
    if (schema_.rotate) {
      angle = rotation_angle(static_cast<double>(values[reference_x_]), static_cast<double>(values[reference_y_]));
    }
    float* input = workspace.input_.data();
    std::copy_n(values.data(), schema_.inputs.size(), input);
    if (schema_.rotate) {
      for (const VectorPair& pair : input_pairs_) {
        const Vector2<double> turned = rotate_to_reference<double>(input[pair.x], input[pair.y], angle);
        input[pair.x] = static_cast<float>(turned.x);
        input[pair.y] = static_cast<float>(turned.y);
      }
    }
    for (std::size_t k = 0; k < schema_.inputs.size(); ++k) {
      const auto col = static_cast<Index>(k);
      input[k] = static_cast<float>((input[k] - input_scaling_.mean()(col)) / input_scaling_.scale(col));
    }
    network_->predict(input, workspace.output_.data(), workspace.network_);
    Vector2<double> reference;
    if (schema_.residual) {
      reference = rotate_to_reference<double>(values[reference_x_], values[reference_y_], angle);
    }
    return finish(workspace.output_.data(), angle, reference.x, reference.y);
  }

  // As above with a workspace kept per thread (allocated on first use).
  EventPrediction predict_event(std::span<const float> values) const {
    thread_local std::pair<const void*, Workspace> cache{nullptr, Workspace{}};
    if (cache.first != network_.get()) {
      cache = {network_.get(), make_workspace()};
    }
    return predict_event(values, cache.second);
  }

 private:
  void require_trained(const char* operation) const {
    if (!network_) {
      throw ConfigError(std::string("MetNet::") + operation +
                        ": the model is not trained; call fit or load a weights file first");
    }
  }

  static void check_options(const TrainingOptions& options) {
    if (options.epochs <= 0) {
      throw ConfigError("MetNet::fit: expected epochs > 0, found " + std::to_string(options.epochs));
    }
    if (options.batch_size <= 0) {
      throw ConfigError("MetNet::fit: expected batch_size > 0, found " + std::to_string(options.batch_size));
    }
    if (!(options.validation_fraction >= 0.0 && options.validation_fraction < 1.0)) {
      throw ConfigError("MetNet::fit: expected 0 <= validation_fraction < 1, found " +
                        std::to_string(options.validation_fraction));
    }
    if (options.patience < 0) {
      throw ConfigError("MetNet::fit: expected patience >= 0, found " + std::to_string(options.patience));
    }
    if (options.threads < 1) {
      throw ConfigError("MetNet::fit: expected threads >= 1, found " + std::to_string(options.threads));
    }
  }

  // Installs trained statistics and weights, and prepares the inference path.
  void install(Standardiser input_scaling, Standardiser target_scaling, const MlpWeights<float>& weights) {
    input_scaling_ = std::move(input_scaling);
    target_scaling_ = std::move(target_scaling);
    weights_ = weights;
    network_ = std::make_shared<const InferenceMlp<float>>(weights_);
    event_columns_ = schema_.required_columns(false);
    input_pairs_ = schema_.rotate ? find_vector_pairs(schema_.inputs) : std::vector<VectorPair>{};
    if (schema_.rotate || schema_.residual) {
      reference_x_ = static_cast<std::size_t>(detail::position(event_columns_, schema_.reference_x()));
      reference_y_ = static_cast<std::size_t>(detail::position(event_columns_, schema_.reference_y()));
    }
  }

  // Identifies the training events and the settings that fix the result, so
  // that a checkpoint is resumed only by the run it belongs to. The number of
  // epochs and the patience may change between runs.
  std::uint64_t training_fingerprint(const EventTable& events, const TrainingOptions& options,
                                     const MlpConfig& config) const {
    std::uint64_t hash = detail::fnv1a(events.values().data(), sizeof(float) * static_cast<std::size_t>(events.values().size()));
    for (const std::string& name : events.columns()) {
      hash = detail::fnv1a(name.data(), name.size(), hash);
    }
    for (const std::string& name : schema_.inputs) {
      hash = detail::fnv1a(name.data(), name.size(), hash);
    }
    const double numbers[] = {static_cast<double>(options.seed), static_cast<double>(options.batch_size),
                              options.adam.lr, options.adam.weight_decay, options.validation_fraction,
                              options.use_sample_weights ? 1.0 : 0.0, static_cast<double>(config.hidden_layers),
                              static_cast<double>(config.width), static_cast<double>(config.outputs),
                              static_cast<double>(config.activation), config.layer_norm ? 1.0 : 0.0};
    hash = detail::fnv1a(numbers, sizeof(numbers), hash);
    hash = detail::fnv1a(options.event_weight_column.data(), options.event_weight_column.size(), hash);
    const std::string loss_name(L::name());
    return detail::fnv1a(loss_name.data(), loss_name.size(), hash);
  }

  // Mean validation loss over chunks of the training batch size; a
  // non-empty `offset` shifts outputs and targets as in training.
  double evaluate_loss(const MlpWeights<float>& weights, const Matrix<float>& x, const Matrix<float>& y,
                       const Vector<float>& w, const Matrix<float>& offset, Index batch) const {
    const InferenceMlp<float> network(weights);
    Matrix<float> output(x.rows(), network.outputs());
    network.predict_parallel(x, output, 1);
    double sum = 0.0;
    Index chunks = 0;
    for (Index first = 0; first < x.rows(); first += batch) {
      const Index count = std::min(batch, x.rows() - first);
      const Matrix<float> chunk_out = output.middleRows(first, count);
      const Matrix<float> chunk_y = y.middleRows(first, count);
      const Vector<float> chunk_w = w.segment(first, count);
      if (offset.size() > 0) {
        const Matrix<float> chunk_offset = offset.middleRows(first, count);
        sum += static_cast<double>(
            detail::ShiftedLoss<L>(loss_, chunk_offset).template value<float>(chunk_out, chunk_y, chunk_w));
      } else {
        sum += static_cast<double>(loss_.template value<float>(chunk_out, chunk_y, chunk_w));
      }
      ++chunks;
    }
    return sum / static_cast<double>(std::max<Index>(chunks, 1));
  }

  TrainingProgress progress_report(int epoch, int epochs, Index batch_done, Index batches, double loss_sum,
                                   std::chrono::steady_clock::time_point start, Index batch) const {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    TrainingProgress progress;
    progress.epoch = epoch;
    progress.epochs = epochs;
    progress.batch = batch_done;
    progress.batches = batches;
    progress.train_loss = loss_sum / static_cast<double>(std::max<Index>(batch_done, 1));
    progress.events_per_second = seconds > 0 ? static_cast<double>(batch_done * batch) / seconds : 0.0;
    return progress;
  }

  // Turns one event's raw network output (standardised, rotated frame) into
  // the prediction in the detector frame. reference_par and reference_perp
  // are the reference MET in the rotated frame, added back for residual
  // targets (0 otherwise).
  EventPrediction finish(const float* raw, double angle, double reference_par, double reference_perp) const noexcept {
    EventPrediction event;
    double par = 0.0;
    double perp = 0.0;
    double sigma_par = 0.0;
    double sigma_perp = 0.0;
    if constexpr (is_probabilistic) {
      // Columns (mean_x, raw_scale_x, mean_y, raw_scale_y), as the loss defines them.
      const double floor = std::sqrt(static_cast<double>(loss_.eps));
      const double z_x = raw[2 * target_x_];
      const double z_y = raw[2 * target_y_];
      const double s_x = std::max(softplus(static_cast<double>(raw[2 * target_x_ + 1])), floor);
      const double s_y = std::max(softplus(static_cast<double>(raw[2 * target_y_ + 1])), floor);
      par = z_x * target_scaling_.scale(target_x_) + target_scaling_.mean()(target_x_);
      perp = z_y * target_scaling_.scale(target_y_) + target_scaling_.mean()(target_y_);
      sigma_par = s_x * target_scaling_.scale(target_x_);
      sigma_perp = s_y * target_scaling_.scale(target_y_);
    } else {
      par = raw[target_x_] * target_scaling_.scale(target_x_) + target_scaling_.mean()(target_x_);
      perp = raw[target_y_] * target_scaling_.scale(target_y_) + target_scaling_.mean()(target_y_);
    }

    par += reference_par;
    perp += reference_perp;
    const Vector2<double> detector = rotate_from_reference(par, perp, angle);
    const double pt = std::hypot(detector.x, detector.y);
    event.px = static_cast<float>(detector.x);
    event.py = static_cast<float>(detector.y);
    event.pt = static_cast<float>(pt);
    event.phi = static_cast<float>(azimuth(detector.x, detector.y));

    if constexpr (is_probabilistic) {
      // Precision along the predicted direction u (rotated frame); for a zero
      // prediction u is the reference axis.
      const double inv_par = 1.0 / (sigma_par * sigma_par);
      const double inv_perp = 1.0 / (sigma_perp * sigma_perp);
      const double u_par = pt > 0.0 ? par / pt : 1.0;
      const double u_perp = pt > 0.0 ? perp / pt : 0.0;
      const double precision = u_par * u_par * inv_par + u_perp * u_perp * inv_perp;
      const double c = std::cos(angle);
      const double s = std::sin(angle);
      event.sigma = static_cast<float>(1.0 / std::sqrt(precision));
      event.significance = static_cast<float>(std::sqrt(par * par * inv_par + perp * perp * inv_perp));
      event.sigma_x = static_cast<float>(std::sqrt(c * c * sigma_par * sigma_par + s * s * sigma_perp * sigma_perp));
      event.sigma_y = static_cast<float>(std::sqrt(s * s * sigma_par * sigma_par + c * c * sigma_perp * sigma_perp));
    }
    return event;
  }

  FeatureSchema schema_;
  NetworkShape shape_;
  L loss_;
  double layer_norm_eps_ = 1e-5;
  bool use_sample_weights_ = true;
  TruthWeightSettings sample_weight_settings_;
  std::map<std::string, std::string> metadata_;

  // Set by fit or from_document.
  Standardiser input_scaling_;
  Standardiser target_scaling_;
  MlpWeights<float> weights_;
  std::shared_ptr<const InferenceMlp<float>> network_;
  std::vector<std::string> event_columns_;
  std::vector<VectorPair> input_pairs_;
  std::size_t reference_x_ = 0;
  std::size_t reference_y_ = 0;
  Index target_x_ = 0;
  Index target_y_ = 1;
};

}  // namespace metnet
