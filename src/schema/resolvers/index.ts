import type { Resolvers } from '../__generated__/resolvers-types';
import { Mutation } from './Mutation';
import { withPeople } from './Person';
import { Query } from './Query';
import { Subscription } from './Subscription';
import * as types from './types';

export const resolvers: Resolvers = withPeople({ Query, Mutation, Subscription, ...types });
