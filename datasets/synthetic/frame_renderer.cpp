#include "datasets/synthetic/frame_renderer.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace avqa::synthetic {
namespace {

cv::Scalar scaled(const std::array<unsigned char, 3>& rgb, double factor) {
  return cv::Scalar(std::min(255.0, rgb[0] * factor), std::min(255.0, rgb[1] * factor),
                    std::min(255.0, rgb[2] * factor));
}

// Blends a filled shape into `image` with the given opacity.
void blend_shape(cv::Mat& image, const ClutterShape& shape) {
  const cv::Rect rect(shape.box.x0, shape.box.y0, shape.box.width(), shape.box.height());
  const cv::Rect clipped = rect & cv::Rect(0, 0, image.cols, image.rows);
  if (clipped.empty()) return;
  cv::Mat roi = image(clipped);
  cv::Mat layer = roi.clone();
  const cv::Scalar color(shape.rgb[0], shape.rgb[1], shape.rgb[2]);
  if (shape.circle) {
    cv::circle(layer,
               cv::Point(rect.x + rect.width / 2 - clipped.x, rect.y + rect.height / 2 - clipped.y),
               rect.width / 2, color, cv::FILLED, cv::LINE_AA);
  } else {
    layer.setTo(color);
  }
  cv::addWeighted(layer, shape.alpha, roi, 1.0 - shape.alpha, 0.0, roi);
}

}  // namespace

struct FrameRenderer::Impl {
  const InstrumentTable& table;
  const Scene& scene;
  SceneParams params;
  cv::Mat background;

  void draw_background() {
    const int W = params.width;
    const int H = params.height;
    background.create(H, W, CV_8UC3);
    const int horizon = static_cast<int>(H * (scene.outdoor ? 0.58 : 0.66));
    for (int y = 0; y < H; ++y) {
      // Sky lightens towards the horizon; a wall darkens slightly towards the floor.
      const double f = y < horizon
                           ? (scene.outdoor ? 0.75 + 0.35 * y / horizon : 1.05 - 0.15 * y / horizon)
                           : 0.8 + 0.25 * (y - horizon) / std::max(1, H - horizon);
      background.row(y).setTo(scaled(y < horizon ? scene.backdrop : scene.floor, f));
    }
    if (scene.outdoor) {
      cv::circle(background, cv::Point(W * 5 / 6, H / 8), W / 14, cv::Scalar(255, 236, 150),
                 cv::FILLED, cv::LINE_AA);
    } else {
      for (int x = W / 24; x < W; x += W / 12) {  // curtain folds or wall panels
        cv::line(background, cv::Point(x, 0), cv::Point(x, horizon - 1),
                 scaled(scene.backdrop, 0.8), std::max(1, W / 112), cv::LINE_AA);
      }
      cv::line(background, cv::Point(0, horizon), cv::Point(W, horizon), scaled(scene.floor, 0.6),
               std::max(1, W / 100));
    }
    for (const ClutterShape& shape : scene.clutter) {
      if (!shape.occluder) blend_shape(background, shape);
    }
  }

  void draw_sprite(cv::Mat& image,
                   const InstrumentSpec& spec,
                   const Box& box,
                   bool flip,
                   double brightness,
                   double tilt_degrees = 0) const {
    const double w = box.width();
    const double h = box.height();
    const double tilt = tilt_degrees * M_PI / 180.0;
    const double cos_t = std::cos(tilt), sin_t = std::sin(tilt);
    // Unit-square sprite coordinates to pixels, rotated by the tilt about the box centre. Untilted
    // sprites take the plain formula: the rotated one rounds differently at half pixels, and
    // datasets generated without a tilt must stay pixel for pixel what they were.
    auto to_px = [&](const std::array<double, 2>& p) {
      const double fx = flip ? 1.0 - p[0] : p[0];
      if (tilt == 0) {
        return cv::Point(static_cast<int>(std::lround(box.x0 + fx * w)),
                         static_cast<int>(std::lround(box.y0 + p[1] * h)));
      }
      const double dx = (fx - 0.5) * w, dy = (p[1] - 0.5) * h;
      return cv::Point(static_cast<int>(std::lround(box.center_x() + cos_t * dx - sin_t * dy)),
                       static_cast<int>(std::lround(box.center_y() + sin_t * dx + cos_t * dy)));
    };
    for (const SpritePrimitive& prim : spec.sprite) {
      const cv::Scalar color = scaled(prim.rgb, brightness);
      switch (prim.shape) {
        case SpritePrimitive::Shape::Rect:
          if (tilt == 0) {
            cv::rectangle(image, to_px(prim.points[0]), to_px(prim.points[1]), color, cv::FILLED,
                          cv::LINE_AA);
          } else {
            const auto& a = prim.points[0];
            const auto& b = prim.points[1];
            const std::vector<cv::Point> corners = {to_px({a[0], a[1]}), to_px({b[0], a[1]}),
                                                    to_px({b[0], b[1]}), to_px({a[0], b[1]})};
            cv::fillPoly(image, std::vector<std::vector<cv::Point>>{corners}, color, cv::LINE_AA);
          }
          break;
        case SpritePrimitive::Shape::Circle:
          cv::circle(image, to_px(prim.points[0]),
                     std::max(1, static_cast<int>(std::lround(prim.radius * w))), color, cv::FILLED,
                     cv::LINE_AA);
          break;
        case SpritePrimitive::Shape::Ellipse:
          cv::ellipse(image, to_px(prim.points[0]),
                      cv::Size(std::max(1, static_cast<int>(std::lround(prim.axes[0] * w))),
                               std::max(1, static_cast<int>(std::lround(prim.axes[1] * h)))),
                      (flip ? -prim.angle : prim.angle) + tilt_degrees, 0, 360, color, cv::FILLED,
                      cv::LINE_AA);
          break;
        case SpritePrimitive::Shape::Line:
          cv::line(image, to_px(prim.points[0]), to_px(prim.points[1]), color,
                   std::max(1, static_cast<int>(std::lround(prim.width * w))), cv::LINE_AA);
          break;
        case SpritePrimitive::Shape::Poly: {
          std::vector<cv::Point> points;
          for (const auto& p : prim.points)
            points.push_back(to_px(p));
          cv::fillPoly(image, std::vector<std::vector<cv::Point>>{points}, color, cv::LINE_AA);
          break;
        }
      }
    }
  }
};

FrameRenderer::FrameRenderer(const InstrumentTable& table,
                             const Scene& scene,
                             const SceneParams& params)
    : impl_(new Impl{table, scene, params, {}}) {
  impl_->draw_background();
}

FrameRenderer::~FrameRenderer() = default;

Box FrameRenderer::box_at(std::size_t instrument, double seconds, bool sounding) const {
  const PlannedInstrument& inst = impl_->scene.instruments.at(instrument);
  Box box = inst.box;
  if (!sounding || impl_->scene.motion_suppressed) return box;
  // Playing instruments bob and sway; the amplitude scales with the frame so 224 px gives 3-4 px.
  const double scale = impl_->params.width / 224.0;
  const int dx = static_cast<int>(
      std::lround(2.0 * scale * std::sin(2 * M_PI * 3.1 * seconds + inst.motion_phase)));
  const int dy = static_cast<int>(
      std::lround(4.0 * scale * std::sin(2 * M_PI * 2.3 * seconds + 1.7 * inst.motion_phase)));
  box.x0 += dx;
  box.x1 += dx;
  box.y0 += dy;
  box.y1 += dy;
  return box;
}

double FrameRenderer::tilt_at(std::size_t instrument, double seconds, bool sounding) const {
  const double tilt = impl_->params.playing_tilt;
  if (!sounding || tilt == 0 || impl_->scene.motion_suppressed) return 0;
  const PlannedInstrument& inst = impl_->scene.instruments.at(instrument);
  // Sways between 0.6 and 1 times the tilt, to the side its phase picks: never upright.
  const double side = std::sin(inst.motion_phase) >= 0 ? 1.0 : -1.0;
  return side * tilt * (0.8 + 0.2 * std::sin(2 * M_PI * 1.7 * seconds + inst.motion_phase));
}

void FrameRenderer::render(double seconds,
                           const std::vector<bool>& sounding,
                           std::vector<std::uint8_t>& rgb) const {
  const SceneParams& p = impl_->params;
  rgb.resize(static_cast<std::size_t>(p.width) * p.height * 3);
  cv::Mat image(p.height, p.width, CV_8UC3, rgb.data());
  impl_->background.copyTo(image);
  const auto& instruments = impl_->scene.instruments;
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    if (!instruments[i].visible) continue;
    const bool plays = i < sounding.size() && sounding[i];
    impl_->draw_sprite(image, impl_->table.at(instruments[i].spec), box_at(i, seconds, plays),
                       instruments[i].flip, instruments[i].brightness, tilt_at(i, seconds, plays));
  }
  for (const ClutterShape& shape : impl_->scene.clutter) {
    if (shape.occluder) blend_shape(image, shape);
  }
  if (p.blur_sigma > 0) cv::GaussianBlur(image, image, cv::Size(0, 0), p.blur_sigma);
}

}  // namespace avqa::synthetic
