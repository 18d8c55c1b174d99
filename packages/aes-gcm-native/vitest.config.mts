import { iicpProject } from '../../vitest.shared.mts';

export default iicpProject('aes-gcm-native');
