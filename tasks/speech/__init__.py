"""Speech tasks: spoken digits, yes/no and connected digits (CTC), characters (CTC).

Tasks (each module exposes ``TASK``): ``speech-digits`` (`tasks.speech.digits`, many-to-one
classifier), ``speech-yesno`` (`tasks.speech.yesno`), ``speech-connected-digits``
(`tasks.speech.connected`) and ``speech-chars`` (`tasks.speech.chars`), the last three CTC.

Choices (where DESIGN.md and the issue are silent):

* Models take raw waveforms of a fixed length (``max_seconds`` in the builder config,
  zero-padded at the end), so training batches are plain tensors and TFLite inputs fixed.
  The digit classifier trims leading and trailing silence (35 dB below the peak) before
  padding to 1 s, in the loader and in `transcribe` alike.
* Normalization of the digit classifier's log-mels: BatchNorm (default) beat per-utterance
  mean/variance normalization on the validation takes (99.2 % against 94.8 %, no
  augmentation) and on the leave-one-speaker-out folds.
* The FSDD validation split is takes 5-9 of the training takes (the model is trained on
  takes 10-49); leave-one-speaker-out trains on takes 5-49 of four speakers, validates on
  their takes 0-4 and tests on all takes of the fifth.
* Augmentation: speed and pitch perturbation make extra training copies once (the training
  runner caches the dataset, so per-step randomness lives in the model); gain, noise and
  shift (`zoo.audio_frontend.WaveAugment`), frequency warping and SpecAugment are layers
  that act only in training.
* yesno: every training file opens with "no" and every test file with "yes"; training adds
  utterances recomposed from the training files' words, cut at the pauses by energy
  (`tasks.speech.segment`), in random order (see `tasks.speech.yesno`).
* CTC: blank is index 0, targets are 1-based label ids padded with 0; the loss treats every
  frame of the fixed-length input as valid (padding is silence, learned as blank).
* Streaming (`tasks.speech.streaming`): unidirectional ``speech-ctc`` models only, through
  `zoo.speech.chunk_model` (same weights, explicit buffers and states, recurrent layers
  unrolled over one chunk).
* Full-int8 TFLite: the front end (``log_mel``/``mfcc``) and the normalization right after it
  stay float inside int8 files (`export.float_layers`): a power spectrum spans far more than
  8 bits, and quantizing it too cost speech-digits most of its accuracy (0.35 against 0.98).
  Convolutions, recurrent layers and the heads are int8. Speech models have no step form (the
  front end frames the waveform), so their int8 sequence files are unrolled graphs, larger
  than the float32 ones for long inputs (connected digits, 6 s: 1.4 MB against 0.36 MB);
  dynamic-range files are the small ones. The converter quantizes every constant of 1,024+
  values in dynamic-range mode, with activations quantized on the fly; the mel filterbank is
  therefore applied in column blocks under that size (`MelSpectrogram._mel_parts`), so the
  power spectrum stays float there too (speech-digits dynamic-range: 0.884 -> 1.000 on test).
* Audio longer than a model's input: classifiers refuse it (`AudioError` naming the file);
  `transcribe` streams it through unidirectional CTC models and refuses it for
  bidirectional ones.
"""

from tasks.speech.transcribe import transcribe

__all__ = ["transcribe"]
