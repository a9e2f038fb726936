"""training.synth.preview: the docs' grids of rendered frames and crops say they are renders."""

import cv2
import numpy as np

from training.synth import preview


def test_grids_carry_a_caption_strip_that_says_rendered(tmp_path):
    frames_path, crops_path = preview.write_previews(tmp_path, seed=3, frames=2, crops=4)
    frames, crops = cv2.imread(str(frames_path)), cv2.imread(str(crops_path))
    # One row of the 4-column frame grid (320x240 tiles) and of the 8-column crop grid (192 px),
    # each under one caption strip.
    assert frames.shape == (preview.CAPTION_PX + 240, 4 * 320 + 3 * 4, 3)
    assert crops.shape == (preview.CAPTION_PX + 192, 8 * 192 + 7 * 4, 3)
    for image in (frames, crops):
        strip = image[:preview.CAPTION_PX]
        text = np.all(strip > 200, axis=2)
        assert text.sum() > 300  # white lettering on the dark strip
        assert np.all(strip == strip[..., :1])  # grey only: no depth colours under the text
    for caption in (preview.FRAMES_CAPTION, preview.CROPS_CAPTION):
        assert caption.startswith('rendered (synthetic)') and 'seed 3' in caption.format(3)


def test_caption_fits_the_grid_it_labels():
    # The wording must fit the narrower grid the docs show (4 frame tiles across).
    width = 4 * 320 + 3 * 4
    for caption in (preview.FRAMES_CAPTION, preview.CROPS_CAPTION):
        (text_width, _), _ = cv2.getTextSize(caption.format(12345), cv2.FONT_HERSHEY_SIMPLEX,
                                             0.55, 1)
        assert text_width + 6 <= width


def test_grasp_sheets_are_captioned_renders(tmp_path):
    paths = preview.write_grasp_previews(tmp_path, seed=2, crops=6)
    assert [p.name for p in paths] == ['grasp_crops.png', 'grasp_wear_crops.png']
    for path, caption in zip(paths, (preview.GRASP_CAPTION, preview.WEAR_CAPTION)):
        image = cv2.imread(str(path))
        assert image.shape == (preview.CAPTION_PX + 192, 6 * 192 + 5 * 4, 3)
        assert np.all(image[:preview.CAPTION_PX] > 200, axis=2).sum() > 300
        assert caption.startswith('rendered (synthetic)')
        (text_width, _), _ = cv2.getTextSize(caption.format(12345), cv2.FONT_HERSHEY_SIMPLEX,
                                             0.55, 1)
        assert text_width + 6 <= image.shape[1]


def test_viewpoint_preview_is_a_captioned_grid_of_that_viewpoint(tmp_path):
    path = preview.write_viewpoint_preview(tmp_path, 'overhead', seed=3, frames=2)
    image = cv2.imread(str(path))
    assert path.name == 'viewpoint_overhead.png'
    assert image.shape == (preview.CAPTION_PX + 168, 4 * 224 + 3 * 4, 3)
    assert np.all(image[preview.CAPTION_PX:, 2 * 228:] == 255)  # two tiles, then white
    (text_width, _), _ = cv2.getTextSize(preview.VIEWPOINT_CAPTION.format('third_person', 12345),
                                         cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
    assert text_width + 6 <= image.shape[1]
