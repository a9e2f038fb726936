"""pip install of the ROS-free runtime library: model, codec, segmentation, estimator, weights.

`pip install .` gives `import crossinfonet_ros` (without the ROS node's messages) to people who
only want the network. The ROS package itself is built by colcon from CMakeLists.txt; the offline
tooling in training/ runs from the checkout and is never installed.
"""

from setuptools import find_packages, setup

setup(
    name='crossinfonet-ros',
    version='0.1.0',
    description='CrossInfoNet depth hand-pose estimation (Du et al., CVPR 2019): runtime library',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['crossinfonet_ros', 'crossinfonet_ros.*']),
    package_data={'crossinfonet_ros': ['weights/*.safetensors', 'weights/*.json']},
    install_requires=[
        'numpy>=1.24',
        'opencv-python-headless>=4.8',
        'torch>=2.1',
        'safetensors>=0.4',
        'onnx>=1.15',
        'onnxruntime>=1.17',
    ],
    extras_require={'test': ['pytest', 'hypothesis']},
)
