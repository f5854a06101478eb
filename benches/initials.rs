//! Criterion: a cold initials render (layout, rasterization, PNG or SVG encoding; no cache) at
//! 64, 128 and 512 px. `cargo bench --bench initials`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use visage::domain::initials::{Rgb, default_colors, initials};
use visage::domain::render::{Renderer, Scene, Shape};
use visage::vocabulary::Format;

fn scene(name: &str, size: u32, format: Format) -> Scene {
    let (bg, fg): (Rgb, Rgb) = default_colors(name);
    Scene {
        initials: initials(name, 2),
        size,
        format,
        bg,
        fg,
        shape: Shape::Square,
        bold: false,
    }
}

fn cold_render(c: &mut Criterion) {
    let renderer = Renderer::new(&[]).expect("bundled fonts load");
    let mut group = c.benchmark_group("initials_cold_render");
    for size in [64_u32, 128, 512] {
        for (label, format) in [("png", Format::Png), ("svg", Format::Svg)] {
            let scene = scene("Jane Doe", size, format);
            group.bench_with_input(BenchmarkId::new(label, size), &scene, |b, scene| {
                b.iter(|| renderer.render(scene).expect("renders"));
            });
        }
    }
    let hangul = scene("김민준", 512, Format::Png);
    group.bench_function("png_hangul/512", |b| {
        b.iter(|| renderer.render(&hangul).expect("renders"));
    });
    group.finish();
}

criterion_group!(benches, cold_render);
criterion_main!(benches);
