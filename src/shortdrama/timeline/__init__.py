"""Each episode as an OpenTimelineIO timeline (`build`), and its export through OTIO's adapters to the
formats editors open (`export`). See docs/delivery.md."""
