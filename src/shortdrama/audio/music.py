"""Synthesised music beds: offline, deterministic, and different for every mood.

Each bed is a small arrangement: a pad playing a chord progression, an arpeggio on top,
and a bass line, through a short synthetic reverb. Tempo, mode, register and timbres are
chosen per mood; the seed varies the key, the arpeggio's phrasing and the room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ProviderError

MOODS = ("tense", "romantic", "mysterious", "sad", "hopeful", "comedic", "triumphant", "angry")

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)

PEAK_DBFS = -6.0
_TABLE_SIZE = 4096


@dataclass(frozen=True)
class MoodStyle:
    tempo: float  # beats per minute
    scale: tuple[int, ...]
    tonic: int  # MIDI note of the tonic in the pad's register
    progression: tuple[int, ...]  # 0-based scale degrees, one chord each
    beats_per_chord: int
    sevenths: bool
    pad_rolloff: float  # harmonic n has amplitude 1/n**rolloff: higher is darker and softer
    pad_attack: float  # seconds
    arp_voice: str  # "pluck", "mallet" or "bell"
    arp_steps_per_beat: int
    arp_pattern: tuple[int, ...]  # indexes into the chord tones; past the end climbs an octave
    arp_decay: float  # seconds for a plucked note to fall by 1/e
    bass_pattern: str  # "held", "pulse", "root_fifth" or "drive"
    levels: tuple[float, float, float]  # pad, arpeggio, bass
    reverb_seconds: float


STYLES: dict[str, MoodStyle] = {
    "tense": MoodStyle(96, HARMONIC_MINOR, 50, (0, 5, 3, 4), 4, False, 1.8, 0.6,
                       "pluck", 4, (0, 1, 2, 1), 0.18, "pulse", (0.8, 0.45, 0.9), 1.6),
    "romantic": MoodStyle(70, MAJOR, 53, (0, 5, 3, 4), 4, True, 1.6, 0.9,
                          "pluck", 2, (0, 1, 2, 3, 4, 3, 2, 1), 0.6, "held", (0.9, 0.5, 0.6), 2.2),
    "mysterious": MoodStyle(76, DORIAN, 52, (0, 6, 3, 0, 5, 6, 4, 4), 4, True, 1.9, 1.2,
                            "bell", 1, (0, 2, 4, 1, 3, 2), 1.4, "held", (0.8, 0.5, 0.6), 2.6),
    "sad": MoodStyle(62, MINOR, 57, (0, 5, 2, 6), 4, True, 2.0, 1.1,
                     "pluck", 2, (0, 2, 1, 2, 3, 2, 1, 2), 0.8, "held", (1.0, 0.45, 0.55), 2.4),
    "hopeful": MoodStyle(100, MAJOR, 55, (0, 4, 5, 3), 4, False, 1.4, 0.4,
                         "pluck", 2, (0, 1, 2, 3, 2, 1), 0.45, "root_fifth", (0.7, 0.55, 0.7), 1.6),
    "comedic": MoodStyle(126, MAJOR, 60, (0, 3, 4, 0), 2, False, 1.3, 0.05,
                         "mallet", 2, (0, 2, 1, 2), 0.12, "root_fifth", (0.35, 0.7, 0.8), 0.9),
    "triumphant": MoodStyle(108, MIXOLYDIAN, 50, (0, 6, 3, 0), 4, False, 1.0, 0.15,
                            "pluck", 4, (0, 1, 2, 3, 2, 1, 2, 3), 0.25, "pulse", (0.75, 0.45, 0.85), 1.8),
    "angry": MoodStyle(138, PHRYGIAN, 52, (0, 1, 0, 6), 2, False, 0.9, 0.08,
                       "pluck", 4, (0, 0, 1, 0, 2, 0, 1, 0), 0.1, "drive", (0.55, 0.5, 1.0), 1.0),
}  # fmt: skip


def synthesize_bed(mood: str, duration: float, sample_rate: int = 48000, seed: int = 0) -> np.ndarray:
    """A float32 mono music bed of exactly round(duration * sample_rate) samples, peaking at -6 dBFS."""
    if mood not in STYLES:
        raise ProviderError(f"unknown music mood {mood!r} (choose one of: {', '.join(MOODS)})")
    if duration < 0 or not np.isfinite(duration):
        raise ProviderError(f"music duration must be a non-negative number of seconds, got {duration}")
    total = int(round(duration * sample_rate))
    if total == 0:
        return np.zeros(0, dtype=np.float32)
    style = STYLES[mood]
    rng = np.random.default_rng([MOODS.index(mood), seed % 2**32])
    tonic = style.tonic + int(rng.integers(-2, 3))
    # Notes ringing past the end are simply cut: the fade-out hides it.
    buffer = np.zeros(total, dtype=np.float64)
    render = _Renderer(buffer, sample_rate, rng)

    beat = 60.0 / style.tempo
    chord_seconds = beat * style.beats_per_chord
    chord_count = int(np.ceil(duration / chord_seconds)) + 1
    previous: list[int] | None = None
    pad_level, arp_level, bass_level = style.levels
    for index in range(chord_count):
        degree = style.progression[index % len(style.progression)]
        chord = _chord(style.scale, tonic, degree, style.sevenths)
        voicing = _voice_lead(chord, previous, tonic)
        previous = voicing
        start = index * chord_seconds
        for note in voicing:
            render.pad(note, start, chord_seconds, style.pad_attack, style.pad_rolloff, pad_level / len(voicing))
        _arpeggio(render, style, voicing, start, beat, arp_level)
        _bass(render, style, chord[0], start, beat, bass_level)  # the root, whatever the inversion

    wet = _reverb(buffer, sample_rate, style.reverb_seconds, rng)
    mixed = 0.78 * buffer + 0.32 * wet
    _fade_ends(mixed, sample_rate)
    peak = np.max(np.abs(mixed))
    if peak > 0:
        mixed *= 10 ** (PEAK_DBFS / 20) / peak
    return mixed.astype(np.float32)


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _chord(scale: tuple[int, ...], tonic: int, degree: int, seventh: bool) -> list[int]:
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    notes = []
    for step in steps:
        position = degree + step
        notes.append(tonic + scale[position % 7] + 12 * (position // 7))
    return notes


def _voice_lead(chord: list[int], previous: list[int] | None, tonic: int) -> list[int]:
    """The inversion nearest the previous chord, so the pad glides instead of jumping."""
    if previous is None:
        return chord
    candidates = []
    for rotation in range(len(chord)):
        inverted = chord[rotation:] + [n + 12 for n in chord[:rotation]]
        for shift in (-12, 0, 12):
            voicing = [n + shift for n in inverted]
            if tonic - 7 <= voicing[0] <= tonic + 9:
                candidates.append(voicing)
    if not candidates:
        return chord
    # Ties resolve to the first candidate, which keeps the result deterministic.
    return min(candidates, key=lambda v: sum(abs(a - b) for a, b in zip(sorted(v), sorted(previous))))


def _harmonic_table(amplitudes: list[float]) -> np.ndarray:
    phase = np.arange(_TABLE_SIZE) * (2 * np.pi / _TABLE_SIZE)
    wave = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amplitudes))
    wave /= np.max(np.abs(wave))
    return np.append(wave, wave[0])  # guard sample: interpolation never needs to wrap


class _Renderer:
    """Adds notes into one buffer.

    Wavetables keep a many-harmonic note to one lookup per sample, and since a progression
    repeats, each distinct note is synthesised once and reused at every later occurrence.
    """

    def __init__(self, buffer: np.ndarray, sample_rate: int, rng: np.random.Generator) -> None:
        self.buffer = buffer
        self.sample_rate = sample_rate
        self.rng = rng
        self._tables: dict[tuple, np.ndarray] = {}
        self._notes: dict[tuple, np.ndarray] = {}

    def table(self, rolloff: float, harmonics: int = 12, odd_only: bool = False) -> np.ndarray:
        key = (rolloff, harmonics, odd_only)
        if key not in self._tables:
            amps = [0.0 if odd_only and n % 2 == 0 else 1.0 / n**rolloff for n in range(1, harmonics + 1)]
            self._tables[key] = _harmonic_table(amps)
        return self._tables[key]

    def _oscillate(self, table: np.ndarray, hz: float, length: int) -> np.ndarray:
        cycles = self.rng.random() + hz * np.arange(length) / self.sample_rate
        position = (cycles % 1.0) * _TABLE_SIZE
        index = position.astype(np.int32)
        frac = position - index
        return table[index] * (1.0 - frac) + table[index + 1] * frac

    def _add(self, start_seconds: float, samples: np.ndarray, level: float = 1.0) -> None:
        start = int(round(start_seconds * self.sample_rate))
        end = min(start + len(samples), len(self.buffer))
        if end > start:
            self.buffer[start:end] += level * samples[: end - start]

    def _cached(self, key: tuple, make) -> np.ndarray:
        if key not in self._notes:
            self._notes[key] = make()
        return self._notes[key]

    def pad(self, note: int, start: float, length: float, attack: float, rolloff: float, level: float) -> None:
        key = ("pad", note, length, attack, rolloff)
        self._add(start, self._cached(key, lambda: self._pad_note(note, length, attack, rolloff)), level)

    def _pad_note(self, note: int, length: float, attack: float, rolloff: float) -> np.ndarray:
        release = 0.9
        n = int((length + release) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        envelope = np.clip(t / attack, 0.0, 1.0) ** 2 if attack > 0 else np.ones(n)
        fall = np.clip((t - length) / release, 0.0, 1.0)
        envelope *= 0.5 + 0.5 * np.cos(np.pi * fall)
        table = self.table(rolloff)
        hz = _midi_hz(note)
        # Two voices a few cents apart beat slowly against each other: the "pad" shimmer.
        tone = self._oscillate(table, hz * 2 ** (4 / 1200), n) + self._oscillate(table, hz * 2 ** (-4 / 1200), n)
        return 0.5 * envelope * tone

    def pluck(self, note: int, start: float, decay: float, level: float, voice: str) -> None:
        key = ("pluck", note, decay, voice)
        self._add(start, self._cached(key, lambda: self._pluck_note(note, decay, voice)), level)

    def _pluck_note(self, note: int, decay: float, voice: str) -> np.ndarray:
        hz = _midi_hz(note)
        if voice == "bell":
            return self._bell_note(hz, decay)
        n = int(min(decay * 5, 3.0) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        onset = np.clip(t / 0.004, 0.0, 1.0)
        if voice == "mallet":
            body = self._oscillate(self.table(2.5, 6, odd_only=True), hz, n)
            tone = body * np.exp(-t / decay) + 0.3 * np.sin(2 * np.pi * 4 * hz * t) * np.exp(-t / (decay / 4))
        else:
            # The bright part dies first, as on a plucked string.
            bright = self._oscillate(self.table(1.0, 10), hz, n) * np.exp(-t / (decay / 3))
            warm = self._oscillate(self.table(2.2, 6), hz, n) * np.exp(-t / decay)
            tone = 0.6 * bright + warm
        return onset * tone

    def _bell_note(self, hz: float, decay: float) -> np.ndarray:
        n = int(min(decay * 4, 4.0) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        tone = np.zeros(n)
        for ratio, weight, life in ((1.0, 1.0, 1.0), (2.0, 0.5, 0.6), (2.76, 0.35, 0.4), (5.4, 0.15, 0.2)):
            tone += weight * np.sin(2 * np.pi * hz * ratio * t) * np.exp(-t / (decay * life))
        return 0.6 * np.clip(t / 0.003, 0.0, 1.0) * tone

    def bass(self, note: int, start: float, length: float, level: float, rolloff: float) -> None:
        key = ("bass", note, length, rolloff)
        self._add(start, self._cached(key, lambda: self._bass_note(note, length, rolloff)), level)

    def _bass_note(self, note: int, length: float, rolloff: float) -> np.ndarray:
        n = int((length + 0.08) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        envelope = np.clip(t / 0.01, 0.0, 1.0) * np.clip((length + 0.08 - t) / 0.08, 0.0, 1.0)
        hz = _midi_hz(note)
        tone = 0.6 * self._oscillate(self.table(rolloff, 8), hz, n) + 0.6 * np.sin(2 * np.pi * hz * t)
        return envelope * tone


def _arpeggio(render: _Renderer, style: MoodStyle, voicing: list[int], start: float, beat: float, level: float) -> None:
    step = beat / style.arp_steps_per_beat
    steps = style.beats_per_chord * style.arp_steps_per_beat
    tones = sorted(voicing)
    rotation = int(render.rng.integers(0, len(style.arp_pattern)))
    for i in range(steps):
        # Seeded phrasing: a few rests and softer notes so repeats do not sound mechanical.
        if i > 0 and render.rng.random() < 0.12:
            continue
        index = style.arp_pattern[(i + rotation) % len(style.arp_pattern)]
        note = tones[index % len(tones)] + 12 * (index // len(tones)) + 12
        accent = 1.0 if i % style.arp_steps_per_beat == 0 else 0.75
        velocity = accent * (0.85 + 0.15 * render.rng.random())
        render.pluck(note, start + i * step, style.arp_decay, level * velocity, style.arp_voice)


def _bass(render: _Renderer, style: MoodStyle, root: int, start: float, beat: float, level: float) -> None:
    while root > 47:  # keep the bass around 65-125 Hz, audible on phone speakers
        root -= 12
    while root < 36:
        root += 12
    chord_length = beat * style.beats_per_chord
    if style.bass_pattern == "held":
        render.bass(root, start, chord_length * 0.95, level, 2.0)
    elif style.bass_pattern == "root_fifth":
        for i in range(style.beats_per_chord):
            render.bass(root + (7 if i % 2 else 0), start + i * beat, beat * 0.55, level, 1.6)
    else:
        per_beat = 2 if style.bass_pattern == "pulse" else 4
        step = beat / per_beat
        for i in range(style.beats_per_chord * per_beat):
            accent = 1.0 if i % per_beat == 0 else 0.7
            render.bass(root, start + i * step, step * 0.7, level * accent, 1.2)


def _reverb(dry: np.ndarray, sample_rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Convolution with decaying, slightly darkened noise: a plausible small hall."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    impulse = rng.standard_normal(n) * np.exp(-6.9 * t / seconds)  # -60 dB at `seconds`
    impulse = np.convolve(impulse, np.ones(12) / 12, mode="same")
    impulse[: int(0.012 * sample_rate)] = 0.0  # pre-delay keeps the attack clear
    impulse /= np.sqrt(np.sum(impulse**2))
    size = _fast_fft_size(len(dry) + n)
    spectrum = np.fft.rfft(dry.astype(np.float32), size) * np.fft.rfft(impulse.astype(np.float32), size)
    return np.fft.irfft(spectrum, size)[: len(dry)].astype(np.float64)


def _fast_fft_size(minimum: int) -> int:
    """The smallest 2^a 3^b 5^c >= minimum: FFTs of such sizes are the fast ones."""
    best = 1 << max(minimum - 1, 1).bit_length()
    power3 = 1
    while power3 < best:
        size = power3
        while size < best:
            candidate = size
            while candidate < minimum:
                candidate *= 2
            best = min(best, candidate)
            size *= 5
        power3 *= 3
    return best


def _fade_ends(samples: np.ndarray, sample_rate: int) -> None:
    fade_in = min(int(1.5 * sample_rate), len(samples) // 4)
    fade_out = min(int(2.5 * sample_rate), len(samples) // 4)
    if fade_in:
        samples[:fade_in] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade_in))
    if fade_out:
        samples[-fade_out:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade_out))
