/* keeps the support library non-empty */
int dopflow_test_support_dummy;
