"""One distribution, two packages: the PyTorch library and the QIIME 2 plugin."""
from setuptools import find_packages, setup

setup(
    name='q2-aam',
    version='0.1.0',
    description='AAM (Attention All Microbes): a hierarchical transformer over '
                'ASV sequences, as a PyTorch library and a QIIME 2 plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='BSD-3-Clause',
    url='https://github.com/q2-aam/q2-aam',
    python_requires='>=3.8',
    packages=find_packages(include=['aam_core', 'aam_core.*',
                                    'q2_aam', 'q2_aam.*']),
    package_data={
        'q2_aam': ['citations.bib', 'assets/*', 'assets/**/*'],
    },
    include_package_data=False,
    # qiime2, q2-types, q2-sample-classifier, q2cli etc. are deliberately NOT
    # listed: QIIME 2 is installed by conda or by Debian packages, and pip
    # would otherwise try to replace that installation with PyPI builds that
    # do not exist or do not match it. The plugin expects to be installed into
    # an environment that already holds QIIME 2 (see README).
    # No lower bounds above what QIIME 2 2022.11 ships (numpy 1.24,
    # pandas 1.5), so pip never upgrades the scientific stack underneath it.
    # h5py is not listed: biom-format needs it anyway, and Debian registers it
    # under another distribution name, so listing it makes pip fetch a second
    # copy from PyPI.
    install_requires=[
        'torch',
        'numpy',
        'pandas',
        'scipy',
        # biom-format is not listed: QIIME 2 brings it, and Debian's biom
        # requires 'h5py', which pkg_resources cannot resolve there (Debian
        # names it h5py._debian_h5py_serial), so the qiime2.plugins entry
        # point would fail to load with DistributionNotFound.
        'scikit-bio',
        'matplotlib',  # summarize's training curves
        # jinja2 is not listed: q2templates, part of QIIME 2, brings it (the
        # visualizers' pages are rendered with it, on q2templates' base page).
    ],
    # optional features: each says how to install what it needs when it is
    # missing (`pip install q2-aam[tune]`, or the package itself)
    extras_require={
        'tracking': ['tensorboard', 'mlflow-skinny'],  # --tensorboard, --mlflow-uri
        'tune': ['optuna', 'pyyaml'],  # aam tune; YAML settings files
        'onnx': ['onnx', 'onnxruntime'],  # aam export-onnx
    },
    entry_points={
        'qiime2.plugins': ['q2-aam=q2_aam.plugin_setup:plugin'],
        'console_scripts': ['aam=aam_core.cli:main'],
    },
    zip_safe=False,
)
