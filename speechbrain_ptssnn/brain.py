"""The one SpeechBrain ``Brain`` every PTS-SNN recipe trains with."""

import csv
import logging
import os

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import average_checkpoints, hook_on_loading_state_dict_checkpoint
from speechbrain.utils.distributed import ddp_barrier, if_main_process, run_on_main

from speechbrain_ptssnn.atomic import atomic_path, write_json
from speechbrain_ptssnn.losses import distillation_loss
from speechbrain_ptssnn.metrics import classification_metrics, confusion_matrix
from speechbrain_ptssnn.runs import (
    AVERAGED_CHECKPOINT,
    AVERAGED_EPOCHS,
    METRICS_FILE,
    PREDICTIONS,
    is_averaged,
)

logger = logging.getLogger(__name__)

#: checkpointed objects whose state is a torch pickle (SpeechBrain's ``torch_recovery``)
TORCH_STATE_TYPES = (
    torch.nn.Module,
    torch.optim.Optimizer,
    torch.optim.lr_scheduler.LRScheduler,
    torch.optim.lr_scheduler.ReduceLROnPlateau,
    torch.amp.GradScaler,
)


class NonFiniteError(FloatingPointError):
    """A loss or gradient that is NaN or infinite: training stops before it is used."""


def weights_only_recovery(obj, path, end_of_epoch):
    """Loads a checkpointed state with ``torch.load(weights_only=True)``, strictly.

    The Checkpointer's load hook for the adapter, optimiser, scheduler (and
    gradient scaler): as SpeechBrain's ``torch_recovery``, except that the
    file is unpickled with ``weights_only=True`` explicitly, so no code in a
    checkpoint file runs, whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says.

    Arguments
    ---------
    obj : object
        Has ``load_state_dict``.
    path : str or pathlib.Path
        The checkpoint file.
    end_of_epoch : bool
        Unused (as in ``torch_recovery``).

    Raises
    ------
    ValueError
        If the file is not a plain state (it names the file).
    """
    del end_of_epoch
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next((line for line in lines if "Unsupported" in line or "GLOBAL" in line),
                      lines[0] if lines else type(error).__name__)
        raise ValueError(
            f"{path}: not a plain checkpoint state, refusing to unpickle it "
            f"(weights_only=True): {detail}"
        ) from error
    state = hook_on_loading_state_dict_checkpoint(state)
    try:
        obj.load_state_dict(state, strict=True)
    except TypeError:
        obj.load_state_dict(state)


def averaged_meta(epochs):
    """The log's ``stats_meta`` of an averaged model: its first and last epoch (numbers,
    as a ``TensorboardLogger`` needs).

    Example
    -------
    >>> averaged_meta([26, 27, 28, 29, 30])
    {'average of epochs': 26, 'to': 30}
    """
    return {"average of epochs": epochs[0], "to": epochs[-1]}


def warm_restart_cycle_ends(first_length, growth, up_to):
    """The epochs at which ``CosineAnnealingWarmRestarts(T_0, T_mult)`` ends a cycle,
    up to and including the first end at or after ``up_to``.

    Arguments
    ---------
    first_length : int
        ``T_0``, the first cycle's length in epochs.
    growth : int
        ``T_mult``, the factor each cycle is longer than the one before.
    up_to : int
        The last epoch of interest (the run's ``number_of_epochs``).

    Returns
    -------
    list of int
        The cycle ends, ascending; the last one is ``>= up_to``.

    Example
    -------
    >>> warm_restart_cycle_ends(10, 2, 200)
    [10, 30, 70, 150, 310]
    >>> warm_restart_cycle_ends(10, 1, 30)
    [10, 20, 30]
    """
    ends, length = [first_length], first_length
    while ends[-1] < up_to:
        length *= growth
        ends.append(ends[-1] + length)
    return ends


class PTSSNNBrain(sb.Brain):
    """Trains and evaluates an adapter on cached upstream features.

    Batches carry ``feats`` (padded upstream frames and relative lengths) and
    ``emo_encoded`` (class indices); ``compute_forward`` runs
    ``modules.adapter`` on them and ``compute_objectives`` the loss in
    ``hparams.compute_cost``. Only the adapter is a module, so only its
    parameters are optimised and checkpointed: the frozen upstream ran once,
    into the feature cache, before training.

    The learning-rate scheduler (``hparams.lr_scheduler_class``, cosine annealing
    with warm restarts by default) is stepped once per epoch, after
    validation, so ``T_0=10`` means ten epochs. The best checkpoint is chosen
    by ``hparams.best_metric`` on the validation set (``"UA"``, ``"WA"`` or
    ``"F1"``: higher is better; ``"loss"``: lower is better). With
    ``hparams.average_last = N > 0`` the last ``N`` epochs' checkpoints are
    kept as well, and at the end of ``fit`` their adapter weights are averaged
    (SpeechBrain's ``average_checkpoints``) into the checkpoint
    ``CKPT+averaged``, which the test then loads instead of the best one
    (:meth:`average_last_epochs`; ``averaged_metrics`` holds its validation
    metrics).

    Attributes set by :meth:`on_stage_end` in the test stage: ``test_metrics``
    (WA, UA, F1, per-class recall, confusion matrix, loss) and
    ``test_predictions`` (one row per utterance).

    A NaN or infinite loss (any stage) or gradient stops the run at once with
    :class:`NonFiniteError`, naming the batch's utterances: nothing is
    learnt, checkpointed or reported from it. Checkpoints (resume and
    ``--test_only``) are read with :func:`weights_only_recovery`.

    Arguments
    ---------
    See ``speechbrain.Brain``; ``hparams`` must hold ``compute_cost``,
    ``label_encoder`` (filled: its indices are the classes), ``lr_scheduler_class``
    (called with the optimiser), ``epoch_counter``, ``best_metric``,
    ``train_logger`` and ``fold_folder`` (where the test results go); optionally
    ``tensorboard_logger`` (a ``speechbrain.utils.train_logger.TensorboardLogger``),
    ``initial_state``, ``feature_augmentations``, ``mixup_alpha`` and ``average_last``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._batch_ids = []
        self._load_weights_only()

    def _load_weights_only(self):
        """Gives every torch-state recoverable the ``weights_only=True`` load hook."""
        if self.checkpointer is None:
            return
        for name, obj in self.checkpointer.recoverables.items():
            if isinstance(obj, TORCH_STATE_TYPES):
                self.checkpointer.custom_load_hooks[name] = weights_only_recovery

    @property
    def labels(self):
        """The class names, in encoder order."""
        encoder = self.hparams.label_encoder
        return [encoder.ind2lab[index] for index in range(len(encoder))]

    @property
    def average_last(self):
        """How many last epochs the tested weights average (``hparams.average_last``; 0: none)."""
        return int(getattr(self.hparams, "average_last", 0) or 0)

    @property
    def distilling(self):
        """Whether the adapter learns from a teacher too (``hparams.distill_weight > 0``)."""
        return (getattr(self.hparams, "distill_weight", 0.0) or 0.0) > 0

    def fit(self, epoch_counter, train_set, valid_set=None, progressbar=None,
            train_loader_kwargs={}, valid_loader_kwargs={}):  # noqa: B006 - Brain.fit's own defaults
        """``Brain.fit``; when distilling, the teacher first learns the same training part;
        with ``average_last > 0``, the last epochs are averaged at the end."""
        self._teacher_data = (train_set, train_loader_kwargs)
        super().fit(epoch_counter, train_set, valid_set, progressbar,
                    train_loader_kwargs, valid_loader_kwargs)
        if self.average_last > 0 and self.checkpointer is not None and valid_set is not None:
            self.average_last_epochs(valid_set, valid_loader_kwargs)

    def average_last_epochs(self, valid_set, loader_kwargs):
        """Averages the last ``average_last`` epochs' adapter weights into ``CKPT+averaged``.

        The adapter is left holding the average; its validation metrics are
        logged (``train_logger``), kept in ``averaged_metrics`` and written to
        the checkpoint's meta (``averaged_WA``, ...), beside the epochs
        averaged (``averaged_epochs``; fewer than ``average_last`` if fewer
        were trained). The other recoverables are saved as they are after
        the last epoch.

        Arguments
        ---------
        valid_set : speechbrain.dataio.dataset.DynamicItemDataset
            The validation set.
        loader_kwargs : dict
            Its data loader options.
        """
        ddp_barrier()  # every process reads what the main one has written
        epochs = self.checkpointer.find_checkpoints(
            ckpt_predicate=lambda ckpt: "epoch" in ckpt.meta and not is_averaged(ckpt),
            max_num_checkpoints=self.average_last,
        )
        if not epochs:
            raise RuntimeError(f"average_last={self.average_last}: no epoch checkpoint in "
                               f"{self.checkpointer.checkpoints_dir} to average")
        adapter = self.modules.adapter
        if isinstance(adapter, torch.nn.parallel.DistributedDataParallel):
            adapter = adapter.module
        adapter.load_state_dict(average_checkpoints(
            epochs, "adapter", parameter_loader=lambda path, map_location: torch.load(
                path, map_location=map_location, weights_only=True)))
        logits, targets = self.collect_logits(valid_set, loader_kwargs)
        confusion = confusion_matrix(targets.tolist(), logits.argmax(dim=-1), len(self.labels))
        metrics = classification_metrics(confusion)
        metrics["loss"] = float(self.hparams.compute_cost(logits, targets))
        self.averaged_metrics = metrics
        summary = {key: round(metrics[key], 4) for key in ("loss", "WA", "UA", "F1")}
        averaged = sorted(ckpt.meta["epoch"] for ckpt in epochs)
        self._log(stats_meta=averaged_meta(averaged), valid_stats=summary)
        self.checkpointer.save_checkpoint(
            meta={AVERAGED_EPOCHS: averaged, **{f"averaged_{k}": v for k, v in summary.items()}},
            name=AVERAGED_CHECKPOINT,
        )
        ddp_barrier()

    def _delete_averaged_checkpoint(self):
        """Removes ``CKPT+averaged``: training goes on from the last epoch, not the average."""
        self.checkpointer.delete_checkpoints(num_to_keep=0, ckpt_predicate=is_averaged)

    def on_fit_start(self):
        """Starts the adapter from ``hparams.initial_state`` (if given), recovers,
        trains the teacher.

        ``initial_state`` is a state dict file of the adapter (an exported
        ``adapter.ckpt``, say) loaded with ``weights_only=True``; a checkpoint
        of the run itself, when there is one, still wins (resume: from the last
        epoch; an averaged checkpoint of an earlier ``fit`` is removed first, and
        rebuilt at the end). When
        distilling, the teacher (``hparams.teacher``) is checkpointed with the
        adapter; a fresh run (epoch 0) trains it first on the fold's training
        part (:meth:`train_teacher`), a resumed one recovers it.
        """
        path = getattr(self.hparams, "initial_state", None)
        if path:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.modules.adapter.load_state_dict(state)
        if self.distilling:
            self.teacher = self.hparams.teacher.to(self.device)
            if self.checkpointer is not None:
                self.checkpointer.add_recoverable("teacher", self.teacher)
        if self.checkpointer is not None:
            run_on_main(self._delete_averaged_checkpoint)
        super().on_fit_start()
        if self.distilling:
            if self.hparams.epoch_counter.current == 0:
                self.train_teacher(*self._teacher_data)
            self.teacher.eval()

    def train_teacher(self, train_set, loader_kwargs):
        """Trains ``hparams.teacher`` with cross-entropy on the training part only.

        ``hparams.teacher_opt_class`` (called with its parameters) and
        ``hparams.teacher_epochs`` passes over the same batches the adapter
        trains on (no augmentation).
        """
        loader = self.make_dataloader(train_set, stage=sb.Stage.TRAIN, **loader_kwargs)
        optimizer = self.hparams.teacher_opt_class(self.teacher.parameters())
        self.teacher.train()
        for _ in range(self.hparams.teacher_epochs):
            for batch in loader:
                batch = batch.to(self.device)
                feats, lengths = batch.feats
                targets = batch.emo_encoded[0].reshape(-1)
                loss = torch.nn.functional.cross_entropy(self.teacher(feats, lengths), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.teacher.eval()

    def init_optimizers(self):
        """Creates the optimiser, then its scheduler (checkpointed with it)."""
        super().init_optimizers()
        self.lr_scheduler = self.hparams.lr_scheduler_class(self.optimizer)
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("lr_scheduler", self.lr_scheduler)
        self._load_weights_only()
        self._warn_if_averaging_mid_cycle()

    def _warn_if_averaging_mid_cycle(self):
        """Warns when ``average_last`` epochs would be averaged in the middle of a warm-restart
        cycle, at a high learning rate: the averaging was validated at a cycle's end."""
        scheduler = self.lr_scheduler
        limit = getattr(getattr(self.hparams, "epoch_counter", None), "limit", None)
        if (self.average_last <= 0 or not limit
                or not isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts)):
            return
        ends = warm_restart_cycle_ends(scheduler.T_0, scheduler.T_mult, limit)
        if limit in ends:
            return
        previous = ends[-2] if len(ends) > 1 else 0
        suggestion = f"{previous} or {ends[-1]}" if previous else str(ends[-1])
        logger.warning(
            "number_of_epochs=%d ends %d epochs into a %d-epoch cosine cycle (T_0=%d, T_mult=%d: "
            "cycles end at epochs %s): average_last=%d averages weights taken at a high learning "
            "rate. End the run at a cycle's end, e.g. --number_of_epochs=%s.",
            limit, limit - previous, ends[-1] - previous, scheduler.T_0, scheduler.T_mult,
            ", ".join(map(str, ends)), self.average_last, suggestion)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Loads the checkpoint to test (``weights_only=True``): the averaged one
        when the fold has one, else the best by ``max_key`` / ``min_key``."""
        self._load_weights_only()
        self.tested_epochs = None
        if self.checkpointer is not None:
            averaged = self.checkpointer.find_checkpoint(ckpt_predicate=is_averaged)
            if averaged is not None:
                self.checkpointer.load_checkpoint(averaged)
                self.tested_epochs = averaged.meta[AVERAGED_EPOCHS]
                return
        super().on_evaluate_start(max_key=max_key, min_key=min_key)

    def on_fit_batch_start(self, batch, should_step):
        """Remembers the batch's utterances, for a non-finite gradient's message."""
        self._batch_ids = list(batch.id)

    def optimizers_step(self):
        """Stops at a non-finite gradient, before the optimiser uses it."""
        if not self.scaler.is_enabled():  # a scaler skips such steps by itself
            grads = [(name, param.grad) for name, param in self.modules.named_parameters()
                     if param.grad is not None]
            finite = [torch.isfinite(grad).all() for _, grad in grads]
            if finite and not bool(torch.stack(finite).all()):
                bad = [name for (name, _), ok in zip(grads, finite) if not bool(ok)]
                raise NonFiniteError(
                    f"non-finite gradient of {', '.join(bad[:5])}"
                    f"{' and more' if len(bad) > 5 else ''} at epoch "
                    f"{self.hparams.epoch_counter.current}, batch of utterances "
                    f"{', '.join(map(str, self._batch_ids))}: training stopped before the "
                    "optimiser step (no checkpoint holds it)"
                )
        super().optimizers_step()

    def compute_forward(self, batch, stage):
        """Runs the adapter on a batch of features; returns logits.

        In training (with the teacher's logits on the same input kept for the
        distillation term), the features first go through ``hparams.feature_augmentations``
        (if any: SpeechBrain ``augment`` modules over ``[batch, time, channels]``,
        e.g. ``SpectrogramDrop`` along time or channels) and, with
        ``hparams.mixup_alpha > 0``, are mixed with a shuffled copy of the batch
        (mixup: ``lam * x + (1 - lam) * x[perm]``, ``lam ~ Beta(alpha, alpha)``,
        the longer of the two lengths kept).
        """
        batch = batch.to(self.device)
        feats, lengths = batch.feats
        self.mixup = None
        if stage == sb.Stage.TRAIN:
            for augment in getattr(self.hparams, "feature_augmentations", None) or ():
                feats = augment(feats)
            alpha = getattr(self.hparams, "mixup_alpha", 0.0) or 0.0
            if alpha > 0:
                lam = float(torch.distributions.Beta(alpha, alpha).sample())
                perm = torch.randperm(feats.shape[0], device=feats.device)
                feats = lam * feats + (1.0 - lam) * feats[perm]
                lengths = torch.maximum(lengths, lengths[perm])
                self.mixup = (lam, perm)
            if self.distilling:
                with torch.no_grad():
                    self.teacher_logits = self.teacher(feats, lengths)
        return self.modules.adapter(feats, lengths)

    def compute_objectives(self, predictions, batch, stage):
        """Computes the loss and, outside training, collects predictions."""
        targets, _ = batch.emo_encoded
        targets = targets.reshape(-1)
        loss = self.hparams.compute_cost(predictions, targets)
        if self.mixup is not None:
            lam, perm = self.mixup
            loss = lam * loss + (1.0 - lam) * self.hparams.compute_cost(predictions, targets[perm])
        if stage == sb.Stage.TRAIN and self.distilling:
            weight = self.hparams.distill_weight
            distilled = distillation_loss(
                predictions, self.teacher_logits, self.hparams.distill_temperature
            )
            loss = (1.0 - weight) * loss + weight * distilled
        if not bool(torch.isfinite(loss).all()):
            stage_name = str(stage).split(".")[-1].lower()
            raise NonFiniteError(
                f"the {stage_name} loss is {loss.detach().float().cpu().tolist()} at epoch "
                f"{self.hparams.epoch_counter.current} on the batch of utterances "
                f"{', '.join(map(str, batch.id))}: stopping before it is used (check those "
                "utterances' features; no checkpoint or result is written from it)"
            )
        if stage != sb.Stage.TRAIN:
            probabilities = torch.softmax(predictions.detach().float(), dim=-1).cpu()
            self.collected["ids"].extend(batch.id)
            self.collected["targets"].extend(targets.cpu().tolist())
            self.collected["probabilities"].extend(probabilities.tolist())
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Empties the prediction collector."""
        self.collected = {"ids": [], "targets": [], "probabilities": []}

    def stage_metrics(self, stage_loss):
        """WA, UA, F1, recall, confusion matrix and loss of what was collected."""
        probabilities = torch.tensor(self.collected["probabilities"])
        predicted = probabilities.argmax(dim=-1) if len(probabilities) else torch.zeros(0)
        confusion = confusion_matrix(
            self.collected["targets"], predicted, len(self.labels)
        )
        metrics = classification_metrics(confusion)
        metrics["loss"] = float(stage_loss)
        metrics["confusion"] = confusion.tolist()
        return metrics

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, schedules the learning rate, checkpoints, writes test results."""
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        metrics = self.stage_metrics(stage_loss)
        summary = {key: round(metrics[key], 4) for key in ("loss", "WA", "UA", "F1")}
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.lr_scheduler.step()
            self._log(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats={"loss": self.train_loss},
                valid_stats=summary,
            )
            best = self.hparams.best_metric
            keys = {"min_keys": [best]} if best == "loss" else {"max_keys": [best]}
            self.checkpointer.save_and_keep_only(
                meta={**summary, "epoch": epoch}, num_to_keep=max(1, self.average_last), **keys
            )
        else:
            averaged = getattr(self, "tested_epochs", None)
            loaded = (averaged_meta(averaged) if averaged
                      else {"epoch loaded": self.hparams.epoch_counter.current})
            self._log(stats_meta=loaded, test_stats=summary)
            self.test_metrics = metrics
            self.test_predictions = self._prediction_rows()

    def _log(self, **stats):
        """Logs to ``train_logger`` and, when given, ``tensorboard_logger``."""
        self.hparams.train_logger.log_stats(**stats)
        tensorboard = getattr(self.hparams, "tensorboard_logger", None)
        if tensorboard is not None and if_main_process():
            tensorboard.log_stats(**stats)

    def _prediction_rows(self):
        labels = self.labels
        rows = []
        for utt_id, target, probs in zip(
            self.collected["ids"], self.collected["targets"], self.collected["probabilities"]
        ):
            predicted = max(range(len(probs)), key=probs.__getitem__)
            rows.append([utt_id, labels[target], labels[predicted], *probs])
        return rows

    @torch.no_grad()
    def collect_logits(self, dataset, loader_kwargs=None):
        """The adapter's logits and the targets over a dataset (evaluation mode, no augmentation).

        Runs the adapter as it is now (after ``evaluate``: the checkpoint the
        test used), outside any DDP wrapper, so the main process can call it alone.

        Arguments
        ---------
        dataset : speechbrain.dataio.dataset.DynamicItemDataset
            Items with ``feats`` and ``emo_encoded``.
        loader_kwargs : dict, optional
            Data loader options (``batch_size``, ...).

        Returns
        -------
        logits : torch.Tensor
            ``[n, n_classes]`` float32 on the CPU, in the dataset's order.
        targets : torch.Tensor
            ``[n]`` class indices.
        """
        # not a recoverable of the checkpointer (evaluate() sets this in its kwargs too)
        loader_kwargs = {**(loader_kwargs or {}), "ckpt_prefix": None}
        loader = self.make_dataloader(dataset, stage=sb.Stage.TEST, **loader_kwargs)
        adapter = self.modules.adapter
        if isinstance(adapter, torch.nn.parallel.DistributedDataParallel):
            adapter = adapter.module
        adapter.eval()
        logits, targets = [], []
        for batch in loader:
            batch = batch.to(self.device)
            feats, lengths = batch.feats
            logits.append(adapter(feats, lengths).detach().float().cpu())
            targets.append(batch.emo_encoded[0].reshape(-1).cpu())
        return torch.cat(logits), torch.cat(targets)

    def write_test_results(self, folder=None):
        """Writes the last test's ``predictions.csv`` and ``metrics.json`` (main process only).

        Arguments
        ---------
        folder : str, optional
            Where they go: the fold's folder (``hparams.fold_folder``) by
            default; a cross-corpus target's folder for that target's test.
        """
        if not if_main_process():
            return
        fold_folder = folder or self.hparams.fold_folder
        os.makedirs(fold_folder, exist_ok=True)
        labels = self.labels
        path = os.path.join(fold_folder, PREDICTIONS)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["id", "true", "predicted", *[f"p_{label}" for label in labels]])
            for row in self.test_predictions:
                writer.writerow(row[:3] + [f"{p:.6f}" for p in row[3:]])
        metrics = dict(self.test_metrics, labels=labels)
        metrics["recall"] = dict(zip(labels, metrics["recall"]))
        write_json(os.path.join(fold_folder, METRICS_FILE), metrics)
