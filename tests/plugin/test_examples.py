from qiime2.plugin.testing import TestPluginBase


class UsageExamplesTests(TestPluginBase):
    package = 'q2_aam'

    def test_examples(self):
        self.execute_examples()
